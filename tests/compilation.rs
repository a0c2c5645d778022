//! The compilation text and the amendments in the exports, through the
//! real API on both backends: amendments proposed and sponsored through the
//! API appear inline in `format=compilation-md` (CriticMarkup with the
//! sponsors' codes) and `compilation-html` (`<del>`/`<ins>`), in the Akoma
//! Ntoso export (which still validates against the OASIS schema), and at a
//! named version as they were pending then.

use serde_json::{Value, json};

use crate::harness::{Db, HttpResponse, TestServer, on_both_backends};

/// The code-point offset of `passage` in `text`.
fn char_offset(text: &str, passage: &str) -> usize {
    let at = text
        .find(passage)
        .unwrap_or_else(|| panic!("{passage:?} is not in {text:?}"));
    text[..at].chars().count()
}

/// Proposes replacing `passage` (empty: inserting at the end) of `element`
/// with `text`; answers the amendment's id.
async fn propose(
    server: &TestServer,
    draft: &str,
    token: &str,
    element: &Value,
    passage: &str,
    text: &str,
) -> i64 {
    let current = element["text"].as_str().expect("text");
    let from = if passage.is_empty() {
        current.chars().count()
    } else {
        char_offset(current, passage)
    };
    let body = json!({
        "from": from,
        "to": from + passage.chars().count(),
        "text": text,
        "reason": "Clearer <wording> & more.",
        "heads": element["heads"],
    });
    let path = format!(
        "/api/v1/drafts/{draft}/elements/{}/amendments",
        element["id"].as_str().expect("id")
    );
    let resp = server
        .request("POST", &path, Some(token), Some(&body))
        .await;
    assert_eq!(resp.status, 201, "proposing: {}", resp.body);
    resp.json()["id"].as_i64().expect("the amendment's id")
}

fn validate_akn(xml: &str) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("export.xml");
    std::fs::write(&file, xml).expect("writing the export");
    let schema = std::env::var("ACCORD_AKN_XSD").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../crates/export/tests/data/akn/akomantoso30.xsd"
        )
        .into()
    });
    let check = std::process::Command::new("xmllint")
        .args(["--noout", "--schema", &schema])
        .arg(&file)
        .output()
        .expect("xmllint (Debian's libxml2-utils) must be installed");
    assert!(
        check.status.success(),
        "the Akoma Ntoso export does not validate: {}\n{xml}",
        String::from_utf8_lossy(&check.stderr)
    );
}

async fn compilation_shows_pending_amendments(db: Db) {
    let server = TestServer::start(db).await;
    let draft = server.draft().await["id"]
        .as_str()
        .expect("draft id")
        .to_owned();
    let chair = server.session_for("the-chair", "chair", None).await;
    let reviewer = server.session_for("the-reviewer", "reviewer", None).await;
    let iom = server
        .session_for("Ana Ruiz", "delegate", Some("IOM"))
        .await;
    let ilo = server.session_for("Bo Chen", "delegate", Some("ILO")).await;
    let undp = server
        .session_for("Cy Diaz", "delegate", Some("UNDP"))
        .await;
    let element = server.draft().await["elements"][0].clone();
    assert!(
        element["text"]
            .as_str()
            .is_some_and(|t| t.contains("orderly and safe mobility")),
        "{element}"
    );

    // IOM replaces "safe" (UNDP sponsors it), ILO inserts at the end, UNDP
    // proposes a change overlapping IOM's.
    let a = propose(&server, &draft, &iom, &element, "safe", "safe & <regular>").await;
    let resp = server
        .request(
            "POST",
            &format!("/api/v1/drafts/{draft}/amendments/{a}/sponsor"),
            Some(&undp),
            None,
        )
        .await;
    assert_eq!(resp.status, 200, "sponsoring: {}", resp.body);
    let b = propose(&server, &draft, &ilo, &element, "", " [and humane]").await;
    let c = propose(
        &server,
        &draft,
        &undp,
        &element,
        "orderly and safe",
        "regular",
    )
    .await;

    let resp = server
        .request(
            "POST",
            &format!("/api/v1/drafts/{draft}/versions"),
            Some(&chair),
            Some(&json!({ "name": "Rev.1" })),
        )
        .await;
    assert_eq!(resp.status, 201, "naming a version: {}", resp.body);

    let get = |q: String| {
        let path = format!("/api/v1/drafts/{draft}/export?{q}");
        let (server, reviewer) = (&server, &reviewer);
        async move { server.request("GET", &path, Some(reviewer), None).await }
    };
    let checked = |resp: HttpResponse, media: &str, filename: &str| {
        assert_eq!(resp.status, 200, "{}", resp.body);
        assert_eq!(
            resp.header("content-type"),
            Some(format!("{media}; charset=utf-8").as_str())
        );
        assert_eq!(
            resp.header("content-disposition"),
            Some(format!("inline; filename=\"accord-{draft}-{filename}\"").as_str())
        );
        resp
    };

    for version in ["", "&version=Rev.1"] {
        let md = checked(
            get(format!("format=compilation-md{version}")).await,
            "text/markdown",
            "compilation.md",
        )
        .body;
        for marked in [
            format!(
                "orderly and {{~~safe~>safe \\& \\<regular\\>~~}}{{>>A{a}: IOM, UNDP<<}} mobility"
            ),
            format!("{{++ \\[and humane\\]++}}{{>>A{b}: ILO<<}}"),
            format!(
                "- **A{a}** (IOM; sponsors: IOM, UNDP): Replace “safe” with “safe \\& \\<regular\\>”. Reason: Clearer \\<wording\\> \\& more."
            ),
            format!("- **A{b}** (ILO; sponsors: ILO): Insert “\\[and humane\\]”."),
            format!(
                "- **A{c}** (UNDP; sponsors: UNDP): Replace “orderly and safe” with “regular”."
            ),
            format!("Not marked in the text: it overlaps A{a}."),
        ] {
            assert!(md.contains(&marked), "{version}: {marked:?} not in:\n{md}");
        }
        assert!(!md.contains(&format!("{{>>A{c}")), "{md}");

        let html = checked(
            get(format!("format=compilation-html{version}")).await,
            "text/html",
            "compilation.html",
        );
        let plain_html = get(format!("format=html{version}")).await;
        assert_eq!(
            html.header("content-security-policy"),
            plain_html.header("content-security-policy"),
            "the compilation page has the HTML export's policy"
        );
        assert!(
            html.header("content-security-policy")
                .is_some_and(|p| p.contains("style-src 'sha256-"))
        );
        let html = html.body;
        for marked in [
            format!(
                "<del class=\"amendment\" data-amendment=\"A{a}\">safe</del>\
                 <ins class=\"amendment\" data-amendment=\"A{a}\">safe &amp; &lt;regular&gt;</ins>\
                 <small class=\"sponsors\" data-amendment=\"A{a}\">A{a}: IOM, UNDP</small>"
            ),
            format!(
                "<ins class=\"amendment\" data-amendment=\"A{b}\"> [and humane]</ins>\
                 <small class=\"sponsors\" data-amendment=\"A{b}\">A{b}: ILO</small>"
            ),
            format!("<li id=\"amendment-{c}\" class=\"amendment\">"),
        ] {
            assert!(
                html.contains(&marked),
                "{version}: {marked:?} not in:\n{html}"
            );
        }
        assert!(!html.contains("<script"));

        let akn = get(format!("format=akn{version}")).await;
        assert_eq!(akn.status, 200, "{}", akn.body);
        assert!(
            akn.body.contains(&format!(
                "<del class=\"amendment\" title=\"A{a}\" refersTo=\"#org_IOM #org_UNDP\">safe</del>\
                 <ins class=\"amendment\" title=\"A{a}\" refersTo=\"#org_IOM #org_UNDP\">safe &amp; &lt;regular&gt;</ins>"
            )),
            "{}",
            akn.body
        );
        assert!(akn.body.contains(&format!(
            "<ins class=\"amendment\" title=\"A{b}\" refersTo=\"#org_ILO\"> [and humane]</ins>"
        )));
        assert!(
            akn.body
                .contains(&format!("Not marked in the text: it overlaps A{a}."))
        );
        validate_akn(&akn.body);
    }

    // The chair rejects IOM's amendment: gone from the current compilation
    // (UNDP's, overlapping it, is marked now), still pending at Rev.1.
    let resp = server
        .request(
            "POST",
            &format!("/api/v1/drafts/{draft}/amendments/{a}/reject"),
            Some(&chair),
            Some(&json!({ "reason": "not agreed" })),
        )
        .await;
    assert_eq!(resp.status, 200, "rejecting: {}", resp.body);
    let now = get("format=compilation-md".into()).await.body;
    assert!(!now.contains(&format!("A{a}")), "{now}");
    assert!(
        now.contains(&format!(
            "{{~~orderly and safe~>regular~~}}{{>>A{c}: UNDP<<}} mobility"
        )),
        "{now}"
    );
    let then = get("format=compilation-md&version=Rev.1".into()).await.body;
    assert!(then.contains(&format!("{{>>A{a}: IOM, UNDP<<}}")), "{then}");
    assert!(!then.contains(&format!("{{>>A{c}")), "{then}");

    // The plain exports are unchanged in kind: no CriticMarkup in Markdown.
    let md = get("format=md".into()).await.body;
    assert!(!md.contains("{>>") && !md.contains("{~~"), "{md}");
}

on_both_backends!(compilation_shows_pending_amendments, 180);
