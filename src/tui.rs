//! The cutover dashboard: pure state → update → view, plain/JSON line output, and a thin
//! terminal shell.
//!
//! The dashboard has its own input model (`msg::Msg`); the executor, watch and transport are
//! adapted into it, so this module depends on none of them. `update` and `render` are pure:
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
