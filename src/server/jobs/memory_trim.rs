//! Hands freed C heap memory back to the OS every few seconds. The server binary allocates
//! through jemalloc, which returns memory by itself, but SQLite and other C code allocate from
//! glibc, which keeps what a burst freed inside its arenas; `malloc_trim` releases those pages,
//! so the footprint returns to its idle size after the burst.
use std::time::Duration;

pub const EVERY: Duration = Duration::from_secs(10);

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    unsafe extern "C" {
        fn malloc_trim(pad: usize) -> i32;
    }
    // SAFETY: malloc_trim takes no pointers and only works on glibc's own free lists.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}

pub fn spawn() {
    tokio::spawn(async {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            // Walking the arenas takes milliseconds; keep it off the async workers.
            let _ = tokio::task::spawn_blocking(trim).await;
        }
    });
}
