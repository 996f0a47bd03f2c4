//! The serialized body of the last request sent, kept without a copy: a request that must be
//! sent again after a failed attempt (a batch of whole items) is rebuilt from what was sent,
//! instead of every attempt sending a copy made beforehand that is thrown away when it works.
//!
//! Every table's client carries [`KeepBody`]; it keeps a body only inside [`keeping`].

use std::cell::RefCell;
use std::future::Future;

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_smithy_types::body::SdkBody;

tokio::task_local! {
    static KEPT: RefCell<Option<SdkBody>>;
}

/// Hands the body of each request serialized inside [`keeping`] to it: a shared buffer, not a
/// copy of its bytes.
#[derive(Debug)]
pub(crate) struct KeepBody;

impl Intercept for KeepBody {
    fn name(&self) -> &'static str {
        "singletable::KeepBody"
    }

    fn read_after_serialization(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // Outside `keeping` there is no slot, and nothing to do.
        let _ = KEPT.try_with(|kept| *kept.borrow_mut() = context.request().body().try_clone());
        Ok(())
    }
}

/// Runs `requests`; [`last`] gives the body of the last request it serialized, meanwhile and
/// after, in the returned pair.
pub(crate) async fn keeping<F: Future>(requests: F) -> (F::Output, Option<SdkBody>) {
    KEPT.scope(RefCell::new(None), async move {
        let output = requests.await;
        (output, last())
    })
    .await
}

/// The body of the last request serialized so far inside [`keeping`], taken from it.
pub(crate) fn last() -> Option<SdkBody> {
    KEPT.try_with(|kept| kept.borrow_mut().take())
        .ok()
        .flatten()
}
