//! The host's interrupt (Ctrl-C at the command line's prompt), watched by every wait of
//! the socket core while an interactive input runs (`net::poll`).
//!
//! The interrupt is a pollable the host lends for one `eval` call. Waits deep inside the
//! core cannot be handed it as an argument, so it is kept here by handle for the length
//! of that call, and lent out again only as a reference that cannot outlive a closure.
//! This is the one place outside the Lua bindings with `unsafe` code.

use std::cell::Cell;
use std::mem::ManuallyDrop;

use wasip2::io::poll::Pollable;

/// An interrupt watched by every wait: the pollable's handle, and whom to tell.
#[derive(Clone, Copy)]
struct Watched {
    handle: u32,
    noticed: fn(),
}

thread_local! {
    static INTERRUPT: Cell<Option<Watched>> = const { Cell::new(None) };
}

/// Runs `f` with every wait also ending when `interrupt` is ready, and `noticed` called
/// when one did.
pub fn interruptible<T>(interrupt: &Pollable, noticed: fn(), f: impl FnOnce() -> T) -> T {
    let watched = Watched {
        handle: interrupt.handle(),
        noticed,
    };
    let outer = INTERRUPT.with(|i| i.replace(Some(watched)));
    let out = f();
    INTERRUPT.with(|i| i.set(outer));
    out
}

/// Calls `f` with the interrupt being watched, if any.
pub fn with_interrupt<R>(f: impl FnOnce(Option<&Pollable>) -> R) -> R {
    match INTERRUPT.with(Cell::get) {
        None => f(None),
        Some(watched) => {
            // SAFETY: a handle is stored only while `interruptible` runs, and that call
            // borrows the pollable for all of its length; the reference given to `f`
            // cannot outlive this call, which is inside it. ManuallyDrop leaves the
            // handle to its owner.
            let borrowed = ManuallyDrop::new(unsafe { Pollable::from_handle(watched.handle) });
            f(Some(&borrowed))
        }
    }
}

/// Whether waits are watching an interrupt now (interactive input runs).
pub fn is_watched() -> bool {
    INTERRUPT.with(Cell::get).is_some()
}

/// Whether the watched interrupt has come, without telling anyone.
pub fn is_ready() -> bool {
    with_interrupt(|interrupt| interrupt.is_some_and(Pollable::ready))
}

/// Tells whoever watches the interrupt that it came.
pub fn notice() {
    if let Some(watched) = INTERRUPT.with(Cell::get) {
        (watched.noticed)();
    }
}
