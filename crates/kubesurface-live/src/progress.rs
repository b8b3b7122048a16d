//! The progress bar on stderr: shown only when reading takes more than a moment, and only
//! when stderr is a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long a run must take before the bar appears.
const DELAY: Duration = Duration::from_millis(400);

/// A progress bar that stays hidden until [`DELAY`] has passed.
#[derive(Clone)]
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar over `total` list operations; `None` when progress is off or stderr is not a
    /// terminal. Must be called inside the runtime (it schedules its own appearance).
    pub(crate) fn new(enabled: bool, total: usize) -> Progress {
        if !enabled || !std::io::stderr().is_terminal() {
            return Progress { bar: None };
        }
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::hidden());
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} reading the cluster: {pos}/{len} lists, {msg} {elapsed}",
        ) {
            bar.set_style(style);
        }
        bar.set_message("0 objects");
        let shown = bar.clone();
        tokio::spawn(async move {
            tokio::time::sleep(DELAY).await;
            if !shown.is_finished() {
                shown.set_draw_target(ProgressDrawTarget::stderr());
                shown.enable_steady_tick(Duration::from_millis(120));
            }
        });
        Progress { bar: Some(bar) }
    }

    /// One list operation done; `objects` read so far.
    pub(crate) fn step(&self, objects: usize) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
            bar.set_message(format!("{objects} objects"));
        }
    }

    /// Removes the bar.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
