//! Builds the web UI (client/web) with Trunk into OUT_DIR/dist, for
//! `src/web.rs` to embed. Trunk runs with its own cargo target directory
//! (beside ours) so the two cargo processes never wait on each other.
//!
//! `GAVEL_WEB_DIST=DIR` embeds an already built UI instead.
//!
//! Each file worth it is then compressed once, beside it (`NAME.br`,
//! `NAME.gz`), for `src/web.rs` to send as the browser accepts.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let dist = out.join("dist");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.parent().unwrap().to_path_buf();
    for p in [
        "client/web/src",
        "client/web/index.html",
        "client/web/style.css",
        "client/web/Cargo.toml",
        "client/web/pdf-viewer.js",
        "client/web/package-lock.json",
        "client/web/node_modules/pdfjs-dist/package.json",
        "shared/src",
        "Trunk.toml",
        // sqlx::migrate! embeds these, and cannot tell cargo about a new one itself.
        "migrations/sqlite",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(p).display());
    }
    println!("cargo:rerun-if-env-changed=GAVEL_WEB_DIST");

    if let Some(prebuilt) = std::env::var("GAVEL_WEB_DIST").ok().filter(|p| !p.is_empty()) {
        let _ = std::fs::remove_dir_all(&dist);
        copy_dir(Path::new(&prebuilt), &dist).unwrap_or_else(|e| panic!("cannot copy GAVEL_WEB_DIST={prebuilt}: {e}"));
        compress_dir(&dist).unwrap_or_else(|e| panic!("cannot compress the web UI: {e}"));
        return;
    }

    // OUT_DIR is TARGET/<profile>/build/<pkg>/out: keep the web build in TARGET/web.
    let target = out.ancestors().nth(4).map(Path::to_path_buf).unwrap_or_else(|| out.join("web-target"));
    let web_target = target.join("web");
    let mut path = std::env::var_os("PATH").unwrap_or_default();
    // The set-up script installs wasm-opt (npm `binaryen`) here.
    if let Some(home) = std::env::var_os("HOME") {
        let tools = PathBuf::from(home).join(".cache/gavel-tools/node_modules/.bin");
        let mut paths = vec![tools];
        paths.extend(std::env::split_paths(&path));
        path = std::env::join_paths(paths).unwrap();
    }
    check_tools(&root, &path);
    let mut cmd = Command::new("trunk");
    cmd.arg("build").arg("--dist").arg(&dist).current_dir(&root).env("PATH", &path).env("CARGO_TARGET_DIR", &web_target);
    // Our build's settings must not leak into the wasm build.
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().to_string();
        let leaks = (k.starts_with("CARGO_") && k != "CARGO_HOME" && k != "CARGO_MAKEFLAGS" && k != "CARGO_NET_OFFLINE")
            || k.starts_with("RUSTC")
            || k.starts_with("DEP_")
            || ["RUSTFLAGS", "RUSTDOCFLAGS", "TARGET", "HOST", "PROFILE", "OPT_LEVEL", "DEBUG", "NUM_JOBS", "OUT_DIR"]
                .contains(&k.as_str());
        if leaks {
            cmd.env_remove(&k);
        }
    }
    cmd.env("CARGO_TARGET_DIR", &web_target);
    // One Trunk at a time in TARGET/web: two builds at once (a release build
    // beside a debug one, or an editor's check) wrote the same files, and
    // one embedded a WebAssembly file of zeros, which every browser refused.
    let _ = std::fs::create_dir_all(&web_target);
    let lock = std::fs::File::create(web_target.join(".gavel-trunk.lock"));
    let _held = lock.as_ref().map(|f| f.lock());
    match cmd.output() {
        Ok(o) if o.status.success() => {
            check_wasm(&dist);
            compress_dir(&dist).unwrap_or_else(|e| panic!("cannot compress the web UI: {e}"))
        }
        Ok(o) => panic!(
            "building the web UI with Trunk failed:\n{}\n{}\n(If a tool is missing, scripts/setup installs the wasm32 target, trunk, wasm-bindgen-cli and wasm-opt.)",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!(
            "cannot run `trunk` ({e}). The web UI is built with Trunk: run scripts/setup, \
             or `cargo install trunk --locked --version 0.21.14`."
        ),
    }
}

/// Fails the build when a WebAssembly file Trunk left is not one: embedded,
/// the page would only say that the browser is too old.
fn check_wasm(dist: &Path) {
    for entry in std::fs::read_dir(dist).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "wasm") {
            let head = std::fs::read(&path).is_ok_and(|b| b.starts_with(b"\0asm"));
            assert!(head, "Trunk left {} damaged (not WebAssembly): build again", path.display());
        }
    }
}

/// Fails early, with the fix, when a tool Trunk needs is missing or at the
/// wrong version (Trunk would otherwise try to download it, which fails on
/// machines that reach only the package registries).
fn check_tools(root: &Path, path: &std::ffi::OsStr) {
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap_or_default();
    let wanted = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"wasm-bindgen\"\n"))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_string());
    let version_of = |tool: &str| {
        Command::new(tool).arg("--version").env("PATH", path).output().ok().map(|o| String::from_utf8_lossy(&o.stdout).to_string())
    };
    if let Some(wanted) = wanted {
        match version_of("wasm-bindgen") {
            Some(v) if v.contains(&wanted) => {}
            found => panic!(
                "the web UI needs wasm-bindgen {wanted} (the version in Cargo.lock), found {found:?}: \
                 run scripts/setup, or `cargo install wasm-bindgen-cli --version {wanted}`"
            ),
        }
    }
    check_pdfjs(root);
    match version_of("wasm-opt") {
        Some(v) if v.contains("version 132") => {}
        found => panic!(
            "the web UI needs wasm-opt 132 (npm `binaryen@132`; Debian's wasm-opt breaks the app), found {found:?}: \
             run scripts/setup"
        ),
    }
}

/// pdf.js must be installed (npm) at the version whose folder index.html
/// names: the room tells browsers to keep that folder's files for good.
fn check_pdfjs(root: &Path) {
    let web = root.join("client/web");
    let lock = std::fs::read_to_string(web.join("package-lock.json")).unwrap_or_default();
    let locked = lock
        .split("\"node_modules/pdfjs-dist\"")
        .nth(1)
        .and_then(|rest| rest.split("\"version\": \"").nth(1))
        .and_then(|v| v.split('"').next())
        .unwrap_or_default()
        .to_string();
    let installed = std::fs::read_to_string(web.join("node_modules/pdfjs-dist/package.json")).unwrap_or_default();
    if locked.is_empty() || !installed.contains(&format!("\"version\": \"{locked}\"")) {
        panic!("the web UI needs pdf.js {locked} (npm `pdfjs-dist`) in client/web/node_modules: run scripts/setup");
    }
    let page = std::fs::read_to_string(web.join("index.html")).unwrap_or_default();
    let glue = std::fs::read_to_string(web.join("pdf-viewer.js")).unwrap_or_default();
    let folder = format!("pdfjs-{locked}");
    if !page.contains(&format!("data-target-path=\"{folder}\"")) || !glue.contains(&format!("/{folder}/")) {
        panic!("client/web/index.html and pdf-viewer.js must name the folder {folder}, for the pdf.js of package-lock.json");
    }
}

/// Compresses every file of `dir` worth it, once, beside it: brotli
/// (`NAME.br`, for browsers on HTTPS, the only ones that ask for it; see
/// [`brotli_quality`]) and gzip at its best (`NAME.gz`). The room then sends a tablet the 1.4
/// MB wasm without compressing it for each one (gzip's default level on
/// the fly cost 37-39 ms of the room's CPU per page load).
fn compress_dir(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            compress_dir(&path)?;
            continue;
        }
        let name = entry.file_name().to_string_lossy().to_string();
        if name.ends_with(".br") || name.ends_with(".gz") {
            continue;
        }
        let raw = std::fs::read(&path)?;
        if raw.len() < 1024 {
            continue;
        }
        let params = brotli::enc::BrotliEncoderParams { quality: brotli_quality(), lgwin: 22, size_hint: raw.len(), ..Default::default() };
        let mut br = Vec::new();
        brotli::BrotliCompress(&mut &raw[..], &mut br, &params)?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&raw)?;
        let gz = gz.finish()?;
        for (ext, packed) in [("br", br), ("gz", gz)] {
            // Not worth a header and a decoder for less than a tenth.
            if packed.len() < raw.len() / 10 * 9 {
                std::fs::write(dir.join(format!("{name}.{ext}")), packed)?;
            }
        }
    }
    Ok(())
}

/// Brotli's best (11) for the release build that rooms run: 403 KB for
/// the wasm, against 518 KB with gzip, in about 4 s. Other builds (tests,
/// working on the UI) take 9: 448 KB in a tenth of that.
fn brotli_quality() -> i32 {
    if std::env::var("PROFILE").as_deref() == Ok("release") { 11 } else { 9 }
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), dest)?;
        }
    }
    Ok(())
}
