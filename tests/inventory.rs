//! Inventory spec: each format from fixtures, selection semantics, digest input, properties.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test binary: a panic is a failed test

#[path = "inventory/formats.rs"]
mod formats;
#[path = "inventory/properties.rs"]
mod properties;
#[path = "inventory/selection.rs"]
mod selection;

use std::path::PathBuf;

use cutover::inventory::{Inventory, InventoryError, load};

/// Path of a fixture under `tests/fixtures/inventory/`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/inventory")
        .join(name)
}

/// Loads a fixture that must parse.
pub fn load_ok(name: &str) -> Inventory {
    load(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Loads a fixture that must fail, returning its error.
pub fn load_err(name: &str) -> InventoryError {
    match load(&fixture(name)) {
        Ok(_) => panic!("{name} should not load"),
        Err(e) => e,
    }
}
