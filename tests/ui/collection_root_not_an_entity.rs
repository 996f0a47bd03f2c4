use singletable::Collection;

struct Team {
    id: String,
}

#[derive(Collection)]
#[collection(root = Team)]
struct TeamOnly {
    team: Team,
}

fn main() {}
