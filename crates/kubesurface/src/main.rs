//! The `kubesurface` command line: thin glue over ingest, engine and render.

mod cli;
mod commands;
mod live;
mod sockets_join;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

/// Many small allocations from several threads (the model of a large cluster): mimalloc
/// is markedly faster at them than the system allocator. It is built without its 4 MiB
/// "large" pages (`.cargo/config.toml`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_e` (its Rust bindings list the v2
/// names only); a test checks that this index holds the purge delay's default.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Memory freed during a run stays with the allocator instead of going back to the system
/// after mimalloc's purge delay (1 s). A run is short and its phases reuse what earlier
/// phases freed: handed back, that memory would be faulted in and zeroed again by the next
/// phase (at 100,000 pods about 130 MiB, and the output phase ran 1.5× slower whenever a
/// purge fell inside it).
fn keep_freed_memory() {
    // SAFETY: `mi_option_set` only stores an integer option; mimalloc reads it on its next
    // purge decision.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}

fn main() -> ExitCode {
    keep_freed_memory();
    let mut command = cli::Cli::command();
    if let Some(name) = live::plugin_bin_name() {
        command = command.bin_name(name);
    }
    let cli = cli::Cli::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit());
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kubesurface: error: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hard-coded option index is mimalloc's purge delay: its default (1000 ms in
    /// mimalloc v3) is unlike its neighbours' (eager commit delay 1, NUMA nodes 0).
    #[test]
    fn purge_delay_option_index() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return; // set from outside: the default cannot be seen
        }
        // SAFETY: reads an integer option.
        let delay = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(delay, 1000);
    }

    /// `.cargo/config.toml` builds mimalloc without its 4 MiB "large" pages: a block of
    /// 84–512 KiB then gets a page of its own, sized in 4 KiB steps, instead of a slot of a
    /// size class (100,000 bytes would be 114,688 in a large page, 102,400 on its own).
    #[test]
    fn mimalloc_has_no_large_pages() {
        for size in [100_000usize, 300_000] {
            // SAFETY: a plain allocation, measured and freed.
            let usable = unsafe {
                let block = libmimalloc_sys::mi_malloc(size);
                assert!(!block.is_null());
                let usable = libmimalloc_sys::mi_usable_size(block);
                libmimalloc_sys::mi_free(block);
                usable
            };
            assert_eq!(usable, size.next_multiple_of(4096), "{size} bytes");
        }
    }
}
