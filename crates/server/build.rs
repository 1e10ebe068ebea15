//! Embeds the web UI: every file under `ui/` becomes an entry of the generated `UI_FILES` table
//! (path, bytes, ETag), so a new page or stylesheet is a new file with nothing to list here.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("ui");
    println!("cargo:rerun-if-changed=ui");
    let mut files = Vec::new();
    walk(&root, &mut files);
    let mut entries: Vec<(String, PathBuf)> = files
        .into_iter()
        .map(|f| {
            let rel = f.strip_prefix(&root).expect("under ui/");
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            (rel, f)
        })
        .collect();
    entries.sort();
    let mut out = String::from(
        "/// Every file of the web UI, sorted by path: its path under `ui/`, its bytes, its ETag.\n\
         static UI_FILES: &[(&str, &[u8], &str)] = &[\n",
    );
    for (rel, path) in entries {
        let bytes = std::fs::read(&path).expect("readable UI file");
        let etag = format!("\"{:016x}\"", fnv1a(&bytes));
        writeln!(
            out,
            "    ({rel:?}, include_bytes!({:?}), {etag:?}),",
            path.display().to_string()
        )
        .expect("write to a String");
    }
    out.push_str("];\n");
    let dest =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it")).join("ui_files.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("crates/server/ui exists") {
        let path = entry.expect("readable directory entry").path();
        if path.is_dir() {
            walk(&path, files);
        } else if !path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            files.push(path);
        }
    }
}

/// FNV-1a: a stable content hash for the ETag (no dependency needed at build time).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}
