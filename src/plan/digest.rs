//! The plan digest: sha256 over the normalised plan and the resolved inventory.
//!
//! Reviewers approve a digest; `cutover run --expect-digest` refuses a plan or inventory that
//! changed since. Comments and formatting do not change it; any value or host does.

use super::model::Plan;
use crate::inventory::Inventory;
use sha2::{Digest, Sha256};

/// `sha256:<hex>` of the validated plan (as canonical JSON) and the inventory's canonical text.
pub fn digest(plan: &Plan, inventory: Option<&Inventory>) -> String {
    let mut h = Sha256::new();
    h.update(b"cutover-plan-v1\n");
    h.update(serde_json::to_string(plan).unwrap_or_default().as_bytes());
    h.update(b"\ninventory\n");
    if let Some(inv) = inventory {
        h.update(inv.digest_input().as_bytes());
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// The first 12 hex digits, for headers and run directory names.
pub fn short(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    &hex[..hex.len().min(12)]
}
