//! One store trait per consumer: the narrow ports each handler needs, bundled, so that a handler
//! holds one `Arc<dyn …Store>` and its constructor takes one store. Every bundle is implemented
//! for any type that implements its ports (both adapters implement them all), so an operation
//! added to a narrow port reaches its consumers without touching this file; only a new narrow
//! port is added to the bundles that use it.

use super::{
    AttachmentStore, CommentStore, ContactAdmin, ContactStore, DeliveryStore, IntegrationAdmin, IntegrationStore,
    MediaStore, MessageStore, QuickReplyStore, ReadMarkerStore, ReplyStore, StaffAdmin, StaffStore, TaskStore,
    TaskWorkflow,
};

/// Declares a consumer's store trait and implements it for every type that has its ports.
macro_rules! consumer_store {
    ($(#[$doc:meta])* $name:ident: $first:ident $(+ $port:ident)*) => {
        $(#[$doc])*
        pub trait $name: $first $(+ $port)* + Send + Sync + 'static {}

        impl<S> $name for S where S: $first $(+ $port)* + Send + Sync + 'static {}
    };
}

consumer_store! {
    /// The webhook: the integration a callback is addressed to (through its cache).
    WebhookStore: IntegrationStore
}

consumer_store! {
    /// The processor: applies a client's message (contact, task, comment; reading the
    /// contact's earlier tasks when a re-delivery may have gone to one), records delivery
    /// receipts, and falls back to the account owner as a task's assignee.
    ProcessorStore: IntegrationStore + ContactStore + MessageStore + TaskStore + DeliveryStore + StaffStore
}

consumer_store! {
    /// The media worker: the attachment a job copies the file of, the contact whose avatar it
    /// copies, and how each copy ended.
    MediaWorkerStore: TaskStore + ContactStore + MediaStore
}

consumer_store! {
    /// The sender: the reply to send and the record of each part Viber accepted.
    SenderStore: IntegrationStore + ReplyStore
}

consumer_store! {
    /// The staff API: every resource it serves, and who is calling.
    ApiStore: StaffAdmin
        + IntegrationAdmin
        + TaskStore
        + TaskWorkflow
        + ContactAdmin
        + CommentStore
        + AttachmentStore
        + QuickReplyStore
        + ReadMarkerStore
}

consumer_store! {
    /// Every consumer at once: what a complete adapter serves, and what the local stack, which
    /// runs every handler in one process, holds.
    Store: WebhookStore + ProcessorStore + MediaWorkerStore + SenderStore + ApiStore
}
