//! The cutover dashboard: the run's events adapted into it, pure state → update → view, and a thin
//! terminal shell.
//!
//! The dashboard has its own input model (`msg::Msg`); `adapt` turns the run's events into
//! it, so the rest of this module depends on neither the executor nor the watch. `update` and `render` are pure:
//! time comes in as an argument and rendering does no I/O. `terminal` is the only part that
//! touches the terminal. See `docs/dashboard.md`.

pub mod adapt;
pub mod format;
pub mod msg;
pub mod plain;
pub mod state;
pub mod terminal;
pub mod theme;
pub mod update;
pub mod view;

pub use msg::{Command, Key, Msg};
pub use state::Dashboard;
pub use update::update;
pub use view::render;
