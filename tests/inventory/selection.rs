//! Selection semantics and the digest input.

use cutover::inventory::{Format, Inventory, SelectError, Selector, parse};

fn inv() -> Inventory {
    let text = r#"
[inventory]
name = "t"
[[hosts]]
names = "s-[1-3]"
groups = ["servers"]
labels = { zone = "a" }
[[hosts]]
names = "c-[1-3]"
groups = ["clients"]
labels = { zone = "b" }
[[hosts]]
name = "canary"
groups = ["clients", "canary"]
labels = { zone = "b" }
"#;
    parse(text, Format::Native, "t.toml").unwrap()
}

fn select(inv: &Inventory, sels: &[&str]) -> Result<Vec<String>, SelectError> {
    let sels: Vec<Selector> = sels.iter().map(|s| Selector::parse(s).unwrap()).collect();
    Ok(inv
        .select(&sels)?
        .into_iter()
        .map(|h| h.name.clone())
        .collect())
}

#[test]
fn union_of_positives_in_inventory_order() {
    let inv = inv();
    assert_eq!(
        select(&inv, &["host:c-1", "servers"]).unwrap(),
        ["s-1", "s-2", "s-3", "c-1"]
    );
    assert_eq!(select(&inv, &["all"]).unwrap().len(), 7);
    assert_eq!(
        select(&inv, &["label:zone=b"]).unwrap(),
        ["c-1", "c-2", "c-3", "canary"]
    );
}

#[test]
fn negations_subtract() {
    let inv = inv();
    assert_eq!(
        select(&inv, &["clients", "!canary"]).unwrap(),
        ["c-1", "c-2", "c-3"]
    );
    assert_eq!(
        select(&inv, &["all", "!label:zone=b"]).unwrap(),
        ["s-1", "s-2", "s-3"]
    );
    assert_eq!(select(&inv, &["!clients"]).unwrap(), ["s-1", "s-2", "s-3"]);
    assert!(select(&inv, &[]).unwrap().is_empty());
}

#[test]
fn unknown_group_lists_known_and_suggests() {
    let err = select(&inv(), &["client"]).unwrap_err();
    let SelectError::UnknownGroup {
        suggestion, known, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(suggestion.as_deref(), Some("clients"));
    assert_eq!(known, &["canary", "clients", "servers"]);
    let text = err.to_string();
    assert!(
        text.contains("did you mean `clients`") && text.contains("canary, clients, servers"),
        "{text}"
    );
}

#[test]
fn unknown_names_are_errors_even_when_negated() {
    let inv = inv();
    assert!(matches!(
        select(&inv, &["all", "!cannary"]),
        Err(SelectError::UnknownGroup { .. })
    ));
    let err = select(&inv, &["host:s-9"]).unwrap_err();
    assert!(
        matches!(&err, SelectError::UnknownHost { suggestion: Some(s), .. } if s == "s-1" || s == "s-2" || s == "s-3")
    );
    let err = select(&inv, &["label:zone=c"]).unwrap_err();
    assert!(
        matches!(&err, SelectError::NoLabelMatch { known_values, .. } if known_values == &["a", "b"])
    );
}

#[test]
fn digest_input_ignores_spelling_and_source() {
    let a = "[inventory]\nname = \"d\"\n[[hosts]]\nname = \"h1\"\nlabels = { x = \"1\", y = \"2\" }\nvars = { b = 2, a = \"1\" }\ngroups = [\"g2\", \"g1\"]\n";
    let b = "[inventory]\nname = \"d\"\n[[hosts]]\ngroups = [\"g1\", \"g2\"]\nvars = { a = 1, b = \"2\" }\nlabels = { y = \"2\", x = \"1\" }\nname = \"h1\"\naddress = \"h1\"\nport = 22\n";
    let da = parse(a, Format::Native, "a.toml").unwrap().digest_input();
    let db = parse(b, Format::Native, "elsewhere/b.toml")
        .unwrap()
        .digest_input();
    assert_eq!(da, db);
    assert_eq!(
        da,
        parse(a, Format::Native, "a.toml").unwrap().digest_input()
    );
}

#[test]
fn digest_input_changes_with_what_matters() {
    let base = inv();
    let mut reordered = base.clone();
    reordered.hosts.swap(0, 1);
    assert_ne!(
        base.digest_input(),
        reordered.digest_input(),
        "host order drives batches"
    );
    let mut flagged = base.clone();
    flagged.production = true;
    assert_ne!(base.digest_input(), flagged.digest_input());
    let mut moved = base.clone();
    moved.hosts[0].port = 2222;
    assert_ne!(base.digest_input(), moved.digest_input());
}
