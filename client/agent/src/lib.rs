//! # gavel-agent
//!
//! The tablet agent: finds rooms on the LAN ([`discover`]) and talks to one
//! over QUIC ([`link`]), pinning the certificate fingerprint the room
//! announced. (The meeting-pack cache and the local web UI come next.)

pub mod discover;
pub mod link;
