//! `gavel-bench`: measures Gavel on loopback against what a room's IT team
//! would set up instead, in the same run, and prints a Markdown table.
//!
//!     cargo run --release --bin gavel-bench            # full run (under 10 minutes on 2 cores)
//!     cargo run --release --bin gavel-bench -- --quick # every case, small sizes (CI smoke)
//!
//! The room server runs as its own process (the release binary beside this
//! one) with a temporary data directory; clients run in this process.
//! Baselines: Mosquitto (fan-out), nginx over HTTPS (pack distribution), a
//! plain loopback TCP copy (the machine's ceiling), plain SQLite inserts
//! (vote burst), delegates that are up to date (reconnect storm), an idle
//! server (control under load), an empty database (start-up). Every case checks what clients received (hashes, counts) and
//! fails if it cannot run; the quick mode checks only that.

mod bare;
mod common;
mod fanout;
mod flood;
mod footprint;
mod pack;
mod reconnect;
mod shaped;
mod votes;

use anyhow::Context;
use common::*;
use std::time::Instant;

struct Sizes {
    fanout: Vec<usize>,
    moves: usize,
    stalled: usize,
    missed: usize,
    voters: usize,
    flood: usize,
    pack_docs: usize,
    doc_bytes: usize,
    plans: Vec<(usize, usize)>,
    control_clients: usize,
    meetings: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    if std::env::args().any(|a| a == shaped::INSIDE) {
        return shaped::inside(quick).await;
    }
    if let Some(size) = std::env::args().skip_while(|a| a != bare::INSIDE).nth(1) {
        return bare::serve(size.parse()?).await;
    }
    let z = if quick {
        Sizes {
            fanout: vec![20],
            moves: 20,
            stalled: 10,
            missed: 300,
            voters: 20,
            flood: 10,
            pack_docs: 2,
            doc_bytes: 1 << 20,
            plans: vec![(2, 2)],
            control_clients: 2,
            meetings: 20,
        }
    } else {
        Sizes {
            fanout: vec![50, 500, 2000],
            moves: 200,
            stalled: 500,
            missed: 10_000,
            voters: 500,
            flood: 100,
            pack_docs: 8,
            doc_bytes: 25 << 20,
            plans: vec![(10, 8), (50, 2)],
            control_clients: 10,
            meetings: 1000,
        }
    };
    // `GAVEL_BENCH_FANOUT=500` (or `50,500`) runs the fan-out at those sizes
    // only (while working on it: 2,000 delegates take minutes to sign in).
    let mut z = z;
    if let Ok(sizes) = std::env::var("GAVEL_BENCH_FANOUT") {
        z.fanout = sizes.split(',').map(|n| n.trim().parse()).collect::<Result<_, _>>().context("GAVEL_BENCH_FANOUT: sizes like 50,500")?;
    }
    raise_open_files();
    let started = Instant::now();
    let mut rows = vec![];
    let mut took = vec![];
    let mut phase = |name: &str, t: Instant| {
        eprintln!("gavel-bench: {name} took {:.1} s", t.elapsed().as_secs_f64());
        took.push(format!("{name} {:.0} s", t.elapsed().as_secs_f64()))
    };

    let t = Instant::now();
    let room = Room::start(ROOM_FLAGS).await?;
    // `GAVEL_BENCH_ONLY=fanout,pack,…` runs some cases (while working on one),
    // and signs in only as many delegates as they need.
    let only = std::env::var("GAVEL_BENCH_ONLY").ok();
    let run = |case: &str| only.as_deref().is_none_or(|o| o.split(',').any(|c| c == case));
    let sizes = [
        (run("fanout"), z.fanout.iter().copied().max().unwrap_or(1)),
        (run("stalled"), z.stalled),
        (run("votes"), z.voters),
        (run("reconnect"), z.voters),
        (run("pack"), z.plans.iter().map(|p| p.0).max().unwrap_or(1)),
        (run("control"), z.control_clients),
    ];
    let need = sizes.iter().filter(|s| s.0).map(|s| s.1).max().unwrap_or(1);
    let d = Delegates::build(&room, need).await?;
    phase("setup", t);
    let t = Instant::now();
    if run("fanout") {
        rows.extend(fanout::fanout(&room, &d, &z.fanout, z.moves).await?);
        phase("fan-out and memory", t);
    }
    if run("stalled") {
        let t = Instant::now();
        rows.extend(fanout::stalled(&room, &d, z.stalled, z.moves, z.missed).await?);
        phase("stalled client", t);
    }
    if run("flood") {
        let t = Instant::now();
        rows.extend(flood::flood_case(z.flood, z.moves).await?);
        phase("flood from one address", t);
    }
    if run("votes") {
        let t = Instant::now();
        rows.extend(votes::vote_bursts(&room, &d, z.voters).await?);
        phase("vote burst", t);
    }
    if run("reconnect") {
        let t = Instant::now();
        rows.extend(reconnect::reconnect_storm(&room, &d, z.voters, z.fanout.iter().copied().max().unwrap_or(1)).await?);
        phase("reconnect storm", t);
    }
    if run("pack") || run("control") {
        let t = Instant::now();
        let pack = pack::upload_pack(&d, z.pack_docs, z.doc_bytes).await?;
        if run("pack") {
            rows.extend(pack::distribution(&room, &d, &pack, &z.plans).await?);
        }
        phase("pack distribution", t);
        if run("control") {
            let t = Instant::now();
            rows.extend(pack::control_under_load(&room, &d, &pack, z.control_clients, z.pack_docs).await?);
            phase("control under load", t);
        }
    }
    if run("shaped") {
        let t = Instant::now();
        rows.extend(tokio::task::block_in_place(|| shaped::shaped_link(quick))?);
        phase("control on a shaped link", t);
    }
    if run("startup") {
        let t = Instant::now();
        rows.extend(footprint::bundle(&room, if quick { 3 } else { 50 }).await?);
        rows.extend(footprint::startup(z.meetings).await?);
        phase("start-up and bundle", t);
    }

    println!("| case | Gavel | baseline | Gavel / baseline |");
    println!("|---|---|---|---|");
    for r in rows {
        println!("| {} | {} | {} | {} |", r.case, r.gavel, r.baseline, r.ratio);
    }
    println!();
    println!(
        "{} run on {} cores in {:.0} s ({}). Loopback only; times vary with the machine's load, ratios less.",
        if quick { "Quick" } else { "Full" },
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        started.elapsed().as_secs_f64(),
        took.join(", ")
    );
    Ok(())
}
