use super::*;
use std::collections::{BTreeMap, BTreeSet};

fn host() -> Host {
    Host {
        name: "lab-1".into(),
        address: "127.0.0.2".into(),
        port: 2222,
        user: None,
        groups: BTreeSet::from(["consul".to_string(), "web".to_string()]),
        labels: BTreeMap::from([("rack".to_string(), "r1".to_string())]),
        vars: BTreeMap::from([
            ("root".to_string(), "/tmp/lab/lab-1".to_string()),
            ("odd".to_string(), "it's a \"$dir\"".to_string()),
        ]),
        ssh: Default::default(),
    }
}

fn shell(text: &str) -> String {
    render(text, &host(), Quoting::Shell).unwrap()
}

#[test]
fn host_fields_and_vars_render_in_commands() {
    assert_eq!(
        shell("echo restarted >> {{ vars.root }}/restarts"),
        "echo restarted >> /tmp/lab/lab-1/restarts"
    );
    assert_eq!(
        shell("test {{host.name}} = lab-1 && echo {{ host.port }} {{ host.labels.rack }}"),
        "test lab-1 = lab-1 && echo 2222 r1"
    );
    assert_eq!(shell("echo {{ host.groups }}"), "echo 'consul,web'");
}

#[test]
fn values_are_quoted_for_where_they_stand() {
    let odd = "it's a \"$dir\"";
    assert_eq!(
        shell("echo {{ vars.odd }}"),
        format!("echo {}", shlex::try_quote(odd).unwrap())
    );
    assert_eq!(
        shell("echo \"x {{ vars.odd }}\""),
        r#"echo "x it's a \"\$dir\"""#
    );
    assert_eq!(
        shell("echo 'x {{ vars.odd }}'"),
        r#"echo 'x it'\''s a "$dir"'"#
    );
    // Each reads back, through a real shell's word splitting, as the value itself.
    assert_eq!(
        shell("echo \"$(cat {{ vars.odd }})\""),
        format!("echo \"$(cat {})\"", shlex::try_quote(odd).unwrap())
    );
    for cmd in [
        "{{ vars.odd }}",
        "\"x {{ vars.odd }}\"",
        "'x {{ vars.odd }}'",
    ] {
        let words = shlex::split(&shell(cmd)).unwrap();
        assert!(words[0].ends_with(odd), "{cmd}: {words:?}");
    }
}

#[test]
fn plain_fields_take_the_value_as_it_is() {
    assert_eq!(
        render("{{ vars.root }}/etc/consul.json", &host(), Quoting::Plain).unwrap(),
        "/tmp/lab/lab-1/etc/consul.json"
    );
}

#[test]
fn secrets_and_foreign_templates_are_left_as_written() {
    assert_eq!(
        shell("curl -H {{ secrets.tok }} {{ vars.root }}"),
        "curl -H {{ secrets.tok }} /tmp/lab/lab-1"
    );
    let docker = "docker inspect -f '{{ .State.Running }}{{ end }}' x";
    assert_eq!(shell(docker), docker);
}

#[test]
fn undefined_values_are_errors_naming_the_host() {
    let e = render("ls {{ vars.nope }}", &host(), Quoting::Shell).unwrap_err();
    assert_eq!(
        e.to_string(),
        "`{{ vars.nope }}` is not defined for host lab-1"
    );
    assert!(render("{{ host.user }}", &host(), Quoting::Plain).is_err());
}

#[test]
fn every_malformed_reference_is_reported_with_its_place() {
    let text =
        "a {{ var.root }} b {{ host.hostname }} c {{ vars.x | upper }} d {{ root }} e {{ vars.y";
    let (refs, errors) = parse(text);
    assert!(refs.is_empty());
    let got: Vec<_> = errors.iter().map(|e| (e.to_string(), e.range())).collect();
    assert_eq!(got.len(), 5, "{got:?}");
    assert_eq!(&text[errors[0].range()], "{{ var.root }}");
    assert!(errors[0].hint().contains("did you mean `vars`"));
    assert!(
        errors[1].hint().contains("host.name"),
        "{}",
        errors[1].hint()
    );
    assert!(matches!(errors[2], TemplateError::NotPlain { .. }));
    assert!(matches!(errors[3], TemplateError::UnknownNamespace { .. }));
    assert!(matches!(errors[4], TemplateError::Unclosed { .. }));
}

#[test]
fn references_keep_their_ranges() {
    let text = "x {{vars.root}} y {{ secrets.t }}";
    let (refs, _) = parse(text);
    assert_eq!(refs.len(), 2);
    assert_eq!(&text[refs[0].range.clone()], "{{vars.root}}");
    assert_eq!(refs[0].canonical(), "{{ vars.root }}");
    assert_eq!(refs[1].namespace, Namespace::Secrets);
}

#[test]
fn a_value_holding_template_syntax_is_refused_not_rendered_twice() {
    let mut h = host();
    h.vars.insert("sneaky".into(), "{{ secrets.tok }}".into());
    let e = render("echo {{ vars.sneaky }}", &h, Quoting::Shell).unwrap_err();
    assert!(matches!(e, RenderError::Nested { .. }), "{e}");
}
