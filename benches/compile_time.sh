#!/usr/bin/env bash
# Compile time of the derive's output: a crate of 50 ten-field structs deriving `Entity` (with
# serde's derives, which an entity needs) against the same crate deriving serde's only.
#
#   bash benches/compile_time.sh            # 50 entities, 5 builds of each kind
#   ENTITIES=100 RUNS=9 bash benches/compile_time.sh
#   INSTRUCTIONS=1 bash benches/compile_time.sh   # also rustc's instruction counts (valgrind),
#                                                 # which repeat where wall times do not
#
# Both crates live under target/compile-time and build in the workspace's target directory, so their
# dependencies are built once, before anything is timed; each timed build recompiles only the
# generated crate (its lib.rs touched), incremental and then non-incremental
# (CARGO_INCREMENTAL=0). It prints the median of each and the ratio entity / serde-only.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
entities=${ENTITIES:-50}
runs=${RUNS:-5}
work="$root/target/compile-time"
# The workspace's own target directory: the dependencies are those the workspace built.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
mkdir -p "$work"

# One crate: $1 its name, $2 `entity` or `serde`.
generate() {
    local name=$1 kind=$2 dir="$work/$1"
    mkdir -p "$dir/src"
    cat >"$dir/Cargo.toml" <<EOF
[package]
name = "$name"
version = "0.0.0"
edition = "2021"
publish = false

[workspace]

[dependencies]
serde = { version = "1", features = ["derive"] }
singletable = { path = "$root" }
EOF
    cp "$root/Cargo.lock" "$dir/Cargo.lock"
    {
        echo "#![allow(dead_code)]"
        echo "use serde::{Deserialize, Serialize};"
        [ "$kind" = entity ] && echo "use singletable::Entity;"
        for i in $(seq 1 "$entities"); do
            if [ "$kind" = entity ]; then
                echo "#[derive(Entity, Serialize, Deserialize, Debug, Clone)]"
                echo "#[entity(type = \"T$i\", pk = \"TENANT#<tenant_id>#T$i#<id>\", sk = \"#T$i\","
                echo "    range(name = \"by_name\", begins_with = \"#T$i\"))]"
            else
                echo "#[derive(Serialize, Deserialize, Debug, Clone)]"
            fi
            echo "pub struct S$i {"
            [ "$kind" = entity ] && echo "    #[entity(tenant)]"
            echo "    pub tenant_id: String,"
            echo "    pub id: String,"
            echo "    pub name: String,"
            echo "    pub description: Option<String>,"
            echo "    pub count: i64,"
            echo "    pub score: f64,"
            echo "    pub active: bool,"
            echo "    pub tags: Vec<String>,"
            echo "    pub owner: String,"
            echo "    pub version: u32,"
            echo "}"
        done
    } >"$dir/src/lib.rs"
}

# The median wall time, in seconds, of `runs` builds of crate $1 (environment $2 set).
time_builds() {
    local name=$1 env=$2 times=()
    for _ in $(seq 1 "$runs"); do
        touch "$work/$name/src/lib.rs"
        local start end
        start=$(date +%s.%N)
        env $env cargo build --offline -q --manifest-path "$work/$name/Cargo.toml"
        end=$(date +%s.%N)
        times+=("$(awk "BEGIN { print $end - $start }")")
    done
    printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p"
}

# The rustc command cargo runs to build crate $1 (its lib.rs touched), with environment $2
# (CARGO_INCREMENTAL=0 or 1).
rustc_command() {
    local name=$1 env=$2 line
    touch "$work/$name/src/lib.rs"
    line=$(env $env cargo build --offline -v --manifest-path "$work/$name/Cargo.toml" 2>&1 |
        grep "Running \`.*--crate-name $name ")
    line=${line#*Running \`}
    echo "${line%\`}"
}

# The instructions rustc executes for command $2 in crate $1's directory. Unlike wall time, the
# count repeats on a busy machine (the compiler's own threads included).
instructions() {
    (cd "$work/$1" && eval "valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null $2" 2>&1) |
        sed -n 's/.*I *refs: *//p' | tr -d ,
}

generate ct_entity entity
generate ct_serde serde
# Dependencies first, untimed.
cargo build --offline -q --manifest-path "$work/ct_entity/Cargo.toml"
cargo build --offline -q --manifest-path "$work/ct_serde/Cargo.toml"

echo "compile time of $entities ten-field structs, median of $runs builds (seconds)"
printf '| build | serde only | Entity + serde | ratio |\n|---|---:|---:|---:|\n'
for mode in incremental non-incremental; do
    if [ "$mode" = incremental ]; then env="CARGO_INCREMENTAL=1"; else env="CARGO_INCREMENTAL=0"; fi
    serde=$(time_builds ct_serde "$env")
    entity=$(time_builds ct_entity "$env")
    ratio=$(awk "BEGIN { printf \"%.2f\", $entity / $serde }")
    printf '| %s | %.2f | %.2f | %s× |\n' "$mode" "$serde" "$entity" "$ratio"
done

if [ "${INSTRUCTIONS:-0}" = 1 ]; then
    for mode in incremental non-incremental; do
        if [ "$mode" = incremental ]; then env="CARGO_INCREMENTAL=1"; else env="CARGO_INCREMENTAL=0"; fi
        serde_command=$(rustc_command ct_serde "$env")
        entity_command=$(rustc_command ct_entity "$env")
        # An incremental rebuild of unchanged source, as the timed builds are: the command
        # cargo ran has just filled the incremental cache.
        instructions ct_serde "$serde_command" >"$work/serde.instructions" &
        instructions ct_entity "$entity_command" >"$work/entity.instructions"
        wait
        serde=$(cat "$work/serde.instructions")
        entity=$(cat "$work/entity.instructions")
        ratio=$(awk "BEGIN { printf \"%.2f\", $entity / $serde }")
        printf '| %s, rustc instructions (10^9) | %.2f | %.2f | %s× |\n' "$mode" \
            "$(awk "BEGIN { print $serde / 1e9 }")" "$(awk "BEGIN { print $entity / 1e9 }")" "$ratio"
    done
fi
