//! # gavel-agent
//!
//! The tablet agent: finds rooms on the LAN ([`discover`]), talks to one
//! over QUIC ([`link`]) pinning the certificate fingerprint the room
//! announced, keeps the meeting pack in a local cache ([`pack`]) and serves
//! the web UI on loopback from what it holds ([`agent`]).

pub mod agent;
pub mod discover;
pub mod link;
pub mod pack;
pub mod plain_udp;
pub mod vault;
