//! # gavel-shared
//!
//! The meeting model, the wire protocol and the pure rules of Gavel, shared by
//! the room server and every client (the Leptos web UI in `wasm32`, the native
//! tablet agent). Nothing here does I/O or needs an async runtime, so the same
//! code decides on the server and replays on each client.
//!
//! The one rule everything follows (see `docs/protocol.md`): a client sends a
//! [`protocol::Command`]; the server checks it with [`rules`], writes the new
//! state and appends an [`protocol::Event`] with the meeting's next `seq` in one
//! transaction, and every client folds the events into its copy of the
//! [`state::MeetingState`] with [`state::MeetingState::apply`].
//!
//! - [`model`]: ids, meetings, participants, agenda items, documents.
//! - [`decision`]: attendance and quorum, polls and majorities, opinions,
//!   the speakers' list.
//! - [`minutes`]: the minutes, their approval and signed versions.
//! - [`pack`]: documents in content-defined chunks, and the QUIC request
//!   streams that carry them.
//! - [`text`]: Unicode NFC and the Vietnamese order of names.
//! - [`protocol`]: commands, events and the messages around them.
//! - [`rules`]: who may do what, when; validation; agenda moves.
//! - [`state`]: a meeting's state and how events change it.

pub mod clock;
pub mod decision;
pub mod minutes;
pub mod model;
pub mod pack;
pub mod protocol;
pub mod rules;
pub mod state;
pub mod text;

pub use model::*;
pub use protocol::{Change, ClientMessage, Command, CommandResult, Event, ServerMessage};
pub use rules::RuleError;
pub use state::MeetingState;
