//! Control beside downloads on a link that is the bottleneck, as a room's
//! Wi-Fi is: on bare loopback the 2 cores are the limit, and an agenda move
//! waits for a CPU rather than for the link.
//!
//! The case runs this binary again in a private network namespace (as the
//! discovery tests do) whose loopback is cut to a Wi-Fi's size and speed:
//! 1,500-byte packets, a token bucket ([`RATE`]) with a queue of at most
//! [`QUEUE`] in front of it, as an access point has. Server and tablets talk
//! over it; nothing leaves the namespace. It runs once with each of the
//! room's ways of pacing QUIC (`--quic-congestion bbr`, the default, and
//! `cubic`, quinn's own default), as the reason for the choice.

use crate::common::*;
use crate::pack;
use anyhow::Context;

/// The shaped link's rate (`tc` notation) and what the table calls it.
pub const RATE: (&str, &str) = ("100mbit", "100 Mbit/s");
/// The longest a packet may wait in the link's queue before it is dropped.
pub const QUEUE: (&str, &str) = ("50ms", "50 ms");

/// The flag that makes this binary run the case's inside half.
pub const INSIDE: &str = "--shaped-link-inside";

/// Runs the case in its own namespace and returns its rows.
pub fn shaped_link(quick: bool) -> anyhow::Result<Vec<Row>> {
    let setup = format!(
        "set -e
        ip link set lo up
        ip link set lo mtu 1500
        tc qdisc add dev lo root tbf rate {} burst 32kb latency {}
        exec \"$0\" \"$@\"",
        RATE.0, QUEUE.0
    );
    // This very program, through /proc: the file it was started from may
    // have been replaced since (the benchmark builds the workspace's
    // binaries when it starts, which can relink this one).
    let this = std::path::PathBuf::from(format!("/proc/{}/exe", std::process::id()));
    // The room this run already built: the inside half is a process of its
    // own, and would otherwise build it again, and with whatever sources
    // were edited since the run began (a 447 s rebuild inside one case).
    let server = gavel_tests::server_binary()?;
    let out = gavel_tests::private_network(&setup, &this)
        .env("GAVEL_SERVER_BINARY", &server)
        .arg(INSIDE)
        .args(quick.then_some("--quick"))
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("cannot run `unshare` for the shaped-link case: install util-linux and iproute2")?;
    anyhow::ensure!(
        out.status.success(),
        "the shaped-link case failed, or its namespace could not be made (unshare --net, `ip` and `tc` with tbf need root or user namespaces): {}",
        out.status
    );
    let rows: Vec<Row> = String::from_utf8(out.stdout)?
        .lines()
        .filter_map(|l| l.strip_prefix("ROW\t"))
        .map(|l| match l.split('\t').collect::<Vec<_>>()[..] {
            [case, gavel, baseline, ratio] => Ok(Row::new(case, gavel, baseline, ratio)),
            _ => anyhow::bail!("the shaped-link case printed a malformed row: {l:?}"),
        })
        .collect::<anyhow::Result<_>>()?;
    anyhow::ensure!(rows.len() == 5, "the shaped-link case gave {} rows, not 5", rows.len());
    Ok(rows)
}

/// The inside half: a room, tablets and a pack on the shaped loopback,
/// with each way the room can pace QUIC (`--quic-congestion`); prints its
/// rows for the outside half.
pub async fn inside(quick: bool) -> anyhow::Result<()> {
    let (clients, docs, bytes) = if quick { (2, 1, 1 << 20) } else { (3, 2, 8 << 20) };
    for (flag, name) in [("bbr", "BBR, the default"), ("cubic", "Cubic")] {
        let room = Room::start(&[ROOM_FLAGS, &["--quic-congestion", flag]].concat()).await?;
        let d = Delegates::build(&room, clients).await?;
        let pack = pack::upload_pack(&d, docs, bytes).await?;
        let case = format!("control on a shaped link ({}, at most {} queued), {name}", RATE.1, QUEUE.1);
        let bbr = flag == "bbr";
        for r in pack::control_beside_downloads(&room, &d, &pack, clients, docs, &case, bbr).await? {
            println!("ROW\t{}\t{}\t{}\t{}", r.case, r.gavel, r.baseline, r.ratio);
        }
    }
    Ok(())
}
