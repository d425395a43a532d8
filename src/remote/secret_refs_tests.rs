use super::*;

fn rw(s: &str) -> Result<String, Context> {
    rewrite(s, |n| n == "tok")
        .map(|r| r.script)
        .map_err(|e| e.context)
}

#[test]
fn references_become_quoted_variables_in_every_safe_context() {
    assert_eq!(
        rw("echo {{ secrets.tok }} x{{secrets.tok}}y").unwrap(),
        r#"echo "${CUTOVER_SECRET_tok}" x"${CUTOVER_SECRET_tok}"y"#
    );
    assert_eq!(
        rw(r#"echo "stage sees {{ secrets.tok }}""#).unwrap(),
        r#"echo "stage sees ${CUTOVER_SECRET_tok}""#
    );
    assert_eq!(
        rw("x=$(printf %s {{ secrets.tok }} | wc -c)").unwrap(),
        r#"x=$(printf %s "${CUTOVER_SECRET_tok}" | wc -c)"#
    );
    assert_eq!(
        rw("cat > f <<EOF\nk={{ secrets.tok }}\nEOF\necho {{ secrets.tok }}").unwrap(),
        "cat > f <<EOF\nk=${CUTOVER_SECRET_tok}\nEOF\necho \"${CUTOVER_SECRET_tok}\""
    );
    assert_eq!(
        rw("TOKEN='{{ secrets.tok }}' systemctl restart consul").unwrap(),
        "TOKEN=\"${CUTOVER_SECRET_tok}\" systemctl restart consul"
    );
    assert_eq!(
        rw("sh -c 'echo \"$1\"' sh {{ secrets.tok }}").unwrap(),
        "sh -c 'echo \"$1\"' sh \"${CUTOVER_SECRET_tok}\""
    );
}

#[test]
fn other_references_and_comments_are_left_alone() {
    assert_eq!(
        rw("echo {{ vars.x }} {{ secrets.other }} # don't {{ secrets.tok }}").unwrap(),
        "echo {{ vars.x }} {{ secrets.other }} # don't {{ secrets.tok }}"
    );
    assert_eq!(rw("echo it's'{{'").unwrap(), "echo it's'{{'");
}

#[test]
fn unsafe_contexts_are_refused() {
    assert_eq!(rw("echo 'x {{ secrets.tok }}'"), Err(Context::SingleQuotes));
    assert_eq!(rw("sh -c '{{ secrets.tok }}'"), Err(Context::Code("sh")));
    assert_eq!(
        rw("echo `echo {{ secrets.tok }}`"),
        Err(Context::Backquotes)
    );
    assert_eq!(rw("echo ${x:-{{ secrets.tok }}}"), Err(Context::Parameter));
    assert_eq!(
        rw("echo $(( {{ secrets.tok }} + 1 ))"),
        Err(Context::Arithmetic)
    );
    assert_eq!(rw("echo \\{{ secrets.tok }}"), Err(Context::Escaped));
    assert_eq!(
        rw("cat <<'EOF'\n{{ secrets.tok }}\nEOF"),
        Err(Context::QuotedHeredoc)
    );
    assert_eq!(
        rw("sudo sh -c \"echo {{ secrets.tok }}\""),
        Err(Context::Code("sh"))
    );
    assert_eq!(
        rw("eval echo {{ secrets.tok }}"),
        Err(Context::Code("eval"))
    );
    assert_eq!(
        rw("ssh db1 echo {{ secrets.tok }}"),
        Err(Context::Code("ssh"))
    );
    assert_eq!(
        rw("python3 -c \"print({{ secrets.tok }})\""),
        Err(Context::Code("python3"))
    );
    assert_eq!(
        rw("bash <<EOF\necho {{ secrets.tok }}\nEOF"),
        Err(Context::Code("bash"))
    );
    assert_eq!(
        rw("awk \"{print {{ secrets.tok }}}\""),
        Err(Context::Code("awk"))
    );
}

#[test]
fn the_refusal_names_the_secret_and_the_fix_but_no_value() {
    let e = rewrite("echo 'x {{ secrets.tok }}'", |n| n == "tok").unwrap_err();
    assert_eq!(e.offset, 8);
    let text = e.to_string();
    assert!(
        text.contains("`{{ secrets.tok }}` is inside single quotes"),
        "{text}"
    );
}

#[test]
fn commands_after_a_separator_start_afresh() {
    assert_eq!(
        rw("ssh-keygen -l; echo {{ secrets.tok }}").unwrap(),
        "ssh-keygen -l; echo \"${CUTOVER_SECRET_tok}\""
    );
    assert_eq!(
        rw("sh -c true\necho {{ secrets.tok }}").unwrap(),
        "sh -c true\necho \"${CUTOVER_SECRET_tok}\""
    );
}
