//! Black-box tests of the web panel (issue 7) in headless Chromium: the one login page
//! for the three roles, the operator's companies, a company admin's users, a user's
//! portal; sessions confined to their company, changes that need the CSRF token, logins
//! in the audit log, and no script errors on the pages.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::Server;
use support::chromium::{Browser, Page, artifacts_dir};

/// How long a page may take to show something: a bound, not a claim.
const PATIENCE: Duration = Duration::from_secs(20);

/// Records the page's script errors (uncaught, unhandled rejections, console.error) in
/// `window.__errors`, installed before the page's own scripts run.
const ERROR_TRAP: &str = "window.__errors = [];
  addEventListener('error', (e) => window.__errors.push(String(e.message)));
  addEventListener('unhandledrejection', (e) => window.__errors.push(String(e.reason)));
  const consoleError = console.error;
  console.error = (...args) => { window.__errors.push(args.join(' ')); consoleError(...args); };";

/// The panel of `server` in a new tab, with the error trap.
fn open_panel(browser: &Browser, server: &Server) -> Page {
    let mut page = browser.open("about:blank");
    page.call("Page.enable", json!({}));
    page.call("Page.addScriptToEvaluateOnNewDocument", json!({"source": ERROR_TRAP}));
    page.call("Page.navigate", json!({"url": server.url("/")}));
    page.wait_for("window.panelReady === true", PATIENCE);
    page
}

fn no_script_errors(page: &mut Page) {
    assert_eq!(page.eval("window.__errors"), json!([]), "script errors on the page");
}

/// Log in through the form.
fn log_in(page: &mut Page, company: &str, user: &str, password: &str) {
    page.eval(&format!(
        "(() => {{ const form = document.getElementById('login-form');
         form.company.value = {}; form.user.value = {}; form.password.value = {};
         form.requestSubmit(); return true; }})()",
        json!(company),
        json!(user),
        json!(password)
    ));
}

/// Fill form `id` with `values` (by field name) and submit it.
fn submit(page: &mut Page, id: &str, values: &Value) {
    page.eval(&format!(
        "(() => {{ const form = document.getElementById({});
           for (const [name, value] of Object.entries({values})) form.elements[name].value = value;
           form.requestSubmit(); return true; }})()",
        json!(id)
    ));
}

fn audit_actions(entries: &Value) -> Vec<(String, String)> {
    entries
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (e["action"].as_str().unwrap_or("").to_string(), e["actor"].as_str().unwrap_or("").to_string())
        })
        .collect()
}

#[test]
fn the_operator_logs_in_and_creates_a_company_with_a_wrong_field_shown_beside_it() {
    let server = Server::start();
    let browser = Browser::start();
    let mut page = open_panel(&browser, &server);

    log_in(&mut page, "", "operator", "not-the-token");
    page.wait_for("document.getElementById('login-error')?.textContent !== ''", PATIENCE);
    assert_eq!(
        page.eval("document.getElementById('login-error').textContent"),
        json!("wrong user or password")
    );
    log_in(&mut page, "", "operator", support::OPERATOR_TOKEN);
    page.wait_for(
        "document.body.dataset.role === 'operator' && !!document.getElementById('companies-table')",
        PATIENCE,
    );

    let fill = |page: &mut Page, id: &str| {
        page.eval(&format!(
            "(() => {{ const form = document.getElementById('create-companies');
             form.id.value = {}; form.name.value = 'Globex'; form.max_extensions.value = '20';
             form.time_zone.value = 'Europe/Madrid'; form.requestSubmit(); return true; }})()",
            json!(id)
        ));
    };
    fill(&mut page, "Not An Id!");
    page.wait_for("document.querySelector('[data-field=id]').textContent !== ''", PATIENCE);
    fill(&mut page, "globex");
    page.wait_for("!!document.querySelector('#companies-table tr[data-id=globex]')", PATIENCE);
    assert_eq!(page.eval("document.querySelector('[data-field=id]').textContent"), json!(""));
    page.screenshot(&artifacts_dir().join("panel-companies.png"));
    // The operator's service codes, which every company uses unless it overrides them.
    page.eval("location.hash = '#service-codes'; true");
    page.wait_for("document.getElementById('service-codes')?.pickup_direct.value === '*95'", PATIENCE);
    submit(&mut page, "service-codes", &json!({"pickup_group": "*97"}));
    // *97 is voicemail access's: a clash, shown beside a field, nothing saved.
    page.wait_for(
        "[...document.querySelectorAll('#service-codes .field-error')].some((e) => e.textContent !== '')",
        PATIENCE,
    );
    assert_eq!(server.operator().get("/api/v1/service-codes").expect(200, "codes")["pickup_group"], "*96");
    submit(&mut page, "service-codes", &json!({"pickup_group": "*88"}));
    page.wait_for("document.getElementById('codes-saved').textContent === 'Saved.'", PATIENCE);
    let codes = server.operator().get("/api/v1/service-codes").expect(200, "codes");
    assert_eq!(codes["pickup_group"], "*88", "{codes}");
    no_script_errors(&mut page);

    let company = server.operator().get("/api/v1/companies/globex").expect(200, "the company exists");
    assert_eq!(company["name"], "Globex");
    let actions = audit_actions(&server.operator().get("/api/v1/audit").expect(200, "the audit log"));
    assert!(actions.contains(&("login.failed".into(), "anonymous".into())), "{actions:?}");
    assert!(actions.contains(&("login".into(), "login:operator".into())), "{actions:?}");
}

#[test]
fn a_company_admin_manages_only_their_company_and_a_change_needs_the_csrf_token() {
    let server = Server::start();
    server.create_company("acme", json!({}));
    server.create_company("globex", json!({}));
    let admin = support::merge(
        support::user_body("100"),
        json!({"role": "admin", "portal_password": "acme-admin-pw"}),
    );
    server.operator().post("/api/v1/companies/acme/users", &admin).expect(201, "acme's admin");
    server.create_user("globex", "200");
    let browser = Browser::start();
    let mut page = open_panel(&browser, &server);

    log_in(&mut page, "acme", "100", "acme-admin-pw");
    page.wait_for("document.body.dataset.role === 'admin' && !!document.querySelector('#users-table tr[data-id=\"100\"]')", PATIENCE);
    page.eval(
        "(() => { const form = document.getElementById('create-users');
         form.extension.value = '101'; form.full_name.value = 'Bea'; form.email.value = 'bea@acme.test';
         form.portal_password.value = 'bea-portal-pw'; form.requestSubmit(); return true; })()",
    );
    page.wait_for("!!document.querySelector('#users-table tr[data-id=\"101\"]')", PATIENCE);
    // Editing changes the fields the form shows and keeps the rest (the recording mode
    // set through the API, the portal password 101 logs in with below).
    let recorded = json!({"extension": "101", "full_name": "Bea", "email": "bea@acme.test",
                          "recording": {"mode": "always", "announce": true}});
    server.operator().put("/api/v1/companies/acme/users/101", &recorded).expect(200, "recording mode");
    page.eval("location.hash = '#dids'; true");
    page.eval("location.hash = '#users'; true");
    page.wait_for("!!document.querySelector('#users-table tr[data-id=\"101\"] button.edit')", PATIENCE);
    page.eval("document.querySelector('#users-table tr[data-id=\"101\"] button.edit').click(); true");
    page.wait_for("document.getElementById('create-users').full_name.value === 'Bea'", PATIENCE);
    submit(&mut page, "create-users", &json!({"full_name": "Bea Martín", "web_phone_mode": "exclusive"}));
    page.wait_for(
        "document.querySelector('#users-table tr[data-id=\"101\"]')?.textContent.includes('Bea Martín')",
        PATIENCE,
    );
    let bea = server.operator().get("/api/v1/companies/acme/users/101").expect(200, "user 101");
    assert_eq!(
        (bea["full_name"].as_str(), bea["web_phone_mode"].as_str()),
        (Some("Bea Martín"), Some("exclusive"))
    );
    assert_eq!(bea["recording"], json!({"mode": "always", "announce": true}), "kept: {bea}");
    page.screenshot(&artifacts_dir().join("panel-users.png"));
    no_script_errors(&mut page);

    // Bulk import from CSV: all or nothing.
    let import = |page: &mut Page, csv: &str| {
        let file = tempfile::NamedTempFile::with_suffix(".csv").expect("a CSV file");
        std::fs::write(file.path(), csv).expect("write the CSV");
        page.choose_file("#import-users input[type=file]", file.path());
        page.eval("(() => { document.getElementById('import-users').requestSubmit(); return true; })()");
        page.wait_for("document.getElementById('import-result').textContent !== ''", PATIENCE);
        let said = page.eval("document.getElementById('import-result').textContent");
        page.eval("document.getElementById('import-result').textContent = ''; true");
        said
    };
    let refused = import(
        &mut page,
        "extension,full_name,email\n110,Ana,ana@acme.test\n111,\"Luis, Jr\",not-an-email\n",
    );
    assert!(refused.as_str().is_some_and(|s| s.starts_with("Nothing imported")), "{refused}");
    server.operator().get("/api/v1/companies/acme/users/110").expect(404, "all or nothing");
    let imported = import(
        &mut page,
        "extension,full_name,email\n110,Ana,ana@acme.test\n111,\"Luis, Jr\",luis@acme.test\n",
    );
    assert_eq!(imported, json!("Imported 2 users."));
    page.wait_for("!!document.querySelector('#users-table tr[data-id=\"111\"]')", PATIENCE);
    let luis = server.operator().get("/api/v1/companies/acme/users/111").expect(200, "imported");
    assert_eq!(luis["full_name"], "Luis, Jr", "a quoted CSV field keeps its comma");

    // Any user's devices, from the admin's side.
    page.eval("location.hash = '#user-devices'; true");
    page.wait_for("!!document.getElementById('pick-extension')", PATIENCE);
    submit(&mut page, "pick-extension", &json!({"extension": "110"}));
    page.wait_for("!!document.getElementById('create-devices')", PATIENCE);
    submit(
        &mut page,
        "create-devices",
        &json!({"id": "soft", "name": "Softphone", "kind": "softphone", "order": "3"}),
    );
    page.wait_for("!!document.querySelector('#devices-table tr[data-id=soft]')", PATIENCE);
    server.operator().get("/api/v1/companies/acme/users/110/devices/soft").expect(200, "added by the admin");

    // A queue, a DID sending calls to it, and a queue that cannot go while the DID uses it.
    page.eval("location.hash = '#queues'; true");
    page.wait_for("!!document.getElementById('create-queues')", PATIENCE);
    submit(
        &mut page,
        "create-queues",
        &json!({"name": "sales", "number": "500", "members": "[{\"extension\": \"101\", \"order\": 1}]"}),
    );
    page.wait_for("!!document.querySelector('#queues-table tr[data-id=sales]')", PATIENCE);
    page.eval("location.hash = '#dids'; true");
    page.wait_for("!!document.getElementById('create-dids')", PATIENCE);
    submit(&mut page, "create-dids", &json!({"number": "34910000000", "default_destination": "queue:sales"}));
    page.wait_for("!!document.querySelector('#dids-table tr[data-id=\"34910000000\"]')", PATIENCE);
    submit(&mut page, "try-did", &json!({"number": "34910000000", "caller": "600111222"}));
    page.wait_for("document.getElementById('try-result').textContent !== ''", PATIENCE);
    assert_eq!(
        page.eval("document.getElementById('try-result').textContent"),
        json!("→ queue:sales"),
        "the dry run"
    );
    page.eval("document.getElementById('try-result').textContent = ''; true");
    // A second DID with a time rule: weekdays 09:00-18:00 (Madrid) ring 100, else the queue.
    let rules = r#"[{"order": 1, "weekday": "[1-5]", "start_time": "09:00", "end_time": "18:00", "destination": {"extension": "100"}}]"#;
    submit(
        &mut page,
        "create-dids",
        &json!({"number": "34910000001", "default_destination": "queue:sales", "rules": rules}),
    );
    page.wait_for("!!document.querySelector('#dids-table tr[data-id=\"34910000001\"]')", PATIENCE);
    let try_at = |page: &mut Page, at: &str| {
        submit(page, "try-did", &json!({"number": "34910000001", "caller": "600111222", "at": at}));
        page.wait_for("document.getElementById('try-result').textContent !== ''", PATIENCE);
        let said = page.eval("document.getElementById('try-result').textContent");
        page.eval("document.getElementById('try-result').textContent = ''; true");
        said
    };
    // The browser runs in UTC: Monday 10:00 UTC is 11:00 in Madrid; Sunday is no weekday.
    assert_eq!(try_at(&mut page, "2026-11-23T10:00"), json!("→ extension:100"), "inside the rule");
    assert_eq!(try_at(&mut page, "2026-11-22T10:00"), json!("→ queue:sales"), "outside it: the default");
    page.screenshot(&artifacts_dir().join("panel-dids.png"));
    page.eval("location.hash = '#queues'; true");
    page.wait_for("!!document.querySelector('#queues-table tr[data-id=sales] button.delete')", PATIENCE);
    page.eval("document.querySelector('#queues-table tr[data-id=sales] button.delete').click(); true");
    page.wait_for(
        "document.getElementById('queues-error').textContent.includes('DID 34910000000')",
        PATIENCE,
    );
    page.eval("location.hash = '#dids'; true");
    page.wait_for(
        "!!document.querySelector('#dids-table tr[data-id=\"34910000000\"] button.delete')",
        PATIENCE,
    );
    page.eval(
        "document.querySelector('#dids-table tr[data-id=\"34910000000\"] button.delete').click(); true",
    );
    page.wait_for("!document.querySelector('#dids-table tr[data-id=\"34910000000\"]')", PATIENCE);
    page.eval(
        "document.querySelector('#dids-table tr[data-id=\"34910000001\"] button.delete').click(); true",
    );
    page.wait_for("!document.querySelector('#dids-table tr[data-id=\"34910000001\"]')", PATIENCE);
    server.operator().get("/api/v1/companies/acme/dids/34910000000").expect(404, "deleted from the panel");
    page.eval("location.hash = '#cdrs'; true");
    page.wait_for("document.getElementById('cdr-summary')?.textContent.startsWith('0 calls')", PATIENCE);
    assert_eq!(
        page.eval("document.querySelectorAll('#cdr-chart rect').length"),
        json!(48),
        "24 hours, 2 bars each"
    );
    let csv = page.eval("fetch(document.getElementById('cdr-csv').href).then((r) => r.status)");
    assert_eq!(csv, json!(200), "the CSV downloads with the session");
    no_script_errors(&mut page);

    // The session reaches acme only; a change without the CSRF token is refused.
    let status = |page: &mut Page, script: &str| page.eval(&format!("fetch({script}).then((r) => r.status)"));
    assert_eq!(status(&mut page, "'/api/v1/companies/globex/users'"), json!(403), "another company");
    assert_eq!(status(&mut page, "'/api/v1/companies'"), json!(200));
    let forged =
        "'/api/v1/companies/acme/users', {method: 'POST', headers: {'content-type': 'application/json'},
        body: JSON.stringify({extension: '102', full_name: 'Mal', email: 'mal@acme.test'})}";
    assert_eq!(status(&mut page, forged), json!(403), "no CSRF token, no change");
    server.operator().get("/api/v1/companies/acme/users/102").expect(404, "the forged user was not made");

    let actions =
        audit_actions(&server.operator().get("/api/v1/companies/acme/audit").expect(200, "acme's audit"));
    assert!(actions.contains(&("login".into(), "login:acme/100".into())), "{actions:?}");
    assert!(actions.contains(&("user.create".into(), "login:acme/100".into())), "{actions:?}");

    // 101 is a plain user: their portal, and no company pages.
    page.eval("document.getElementById('logout').click(); true");
    page.wait_for("!!document.getElementById('login-form')", PATIENCE);
    log_in(&mut page, "acme", "101", "bea-portal-pw");
    page.wait_for(
        "document.body.dataset.role === 'user' && !!document.getElementById('create-devices')",
        PATIENCE,
    );
    assert_eq!(status(&mut page, "'/api/v1/companies/acme/users'"), json!(403), "a user is no admin");
    assert_eq!(
        status(&mut page, "'/api/v1/companies/acme/users/100/devices'"),
        json!(403),
        "nor anyone else"
    );
    // Their own devices and ring order, and how their web phone rings.
    submit(&mut page, "create-devices", &json!({"id": "desk", "name": "Desk phone", "order": "2"}));
    page.wait_for("!!document.querySelector('#devices-table tr[data-id=desk]')", PATIENCE);
    let desk =
        server.operator().get("/api/v1/companies/acme/users/101/devices/desk").expect(200, "the device");
    assert_eq!((desk["order"].as_u64(), desk["enabled"].as_bool()), (Some(2), Some(true)), "{desk}");
    page.eval("location.hash = '#web-phone'; true");
    page.wait_for("document.getElementById('web-phone-mode')?.value === 'exclusive'", PATIENCE);
    page.eval(
        "(() => { const mode = document.getElementById('web-phone-mode'); mode.value = 'multi_device';
           mode.dispatchEvent(new Event('change')); return true; })()",
    );
    page.wait_for("document.getElementById('web-phone-saved').textContent === 'Saved.'", PATIENCE);
    let bea = server.operator().get("/api/v1/companies/acme/users/101").expect(200, "user 101");
    assert_eq!(bea["web_phone_mode"], "multi_device", "set by the user: {bea}");
    assert_eq!(page.eval("!!document.getElementById('web-phone-link')"), json!(true));
    page.screenshot(&artifacts_dir().join("panel-portal.png"));
    no_script_errors(&mut page);
}

#[test]
fn a_module_and_a_prompt_are_uploaded_from_the_panel_and_the_module_rolled_back_there() {
    let server = Server::start();
    server.create_company("acme", json!({}));
    let admin = support::merge(
        support::user_body("100"),
        json!({"role": "admin", "portal_password": "acme-admin-pw"}),
    );
    server.operator().post("/api/v1/companies/acme/users", &admin).expect(201, "acme's admin");
    let browser = Browser::start();
    let mut page = open_panel(&browser, &server);
    log_in(&mut page, "acme", "100", "acme-admin-pw");
    page.wait_for("document.body.dataset.role === 'admin'", PATIENCE);
    page.eval("location.hash = '#modules'; true");
    page.wait_for("!!document.getElementById('upload-module')", PATIENCE);

    let upload = |page: &mut Page| {
        page.choose_file("#upload-module input[type=file]", &support::guest_wasm("vip-router"));
        page.eval("(() => { const form = document.getElementById('upload-module'); form.name.value = 'vip'; form.requestSubmit(); return true; })()");
    };
    upload(&mut page);
    page.wait_for(
        "document.querySelector('#modules-table tr[data-id=vip] .active-version')?.textContent === 'v1'",
        PATIENCE,
    );
    upload(&mut page);
    page.wait_for(
        "document.querySelector('#modules-table tr[data-id=vip] .active-version')?.textContent === 'v2'",
        PATIENCE,
    );
    page.screenshot(&artifacts_dir().join("panel-modules.png"));
    // A prompt uploaded the same way is listed as the company's and plays in the page.
    let tone = tempfile::NamedTempFile::with_suffix(".wav").expect("a WAV file");
    std::fs::write(tone.path(), support::audio::tone_wav(16000, 1, 1.0, 440.0)).expect("write the tone");
    page.eval("location.hash = '#prompts'; true");
    page.wait_for("!!document.getElementById('upload-prompt')", PATIENCE);
    page.choose_file("#upload-prompt input[type=file]", tone.path());
    page.eval("(() => { const form = document.getElementById('upload-prompt'); form.name.value = 'welcome'; form.requestSubmit(); return true; })()");
    page.wait_for(
        "document.querySelector('#prompts-table tr[data-id=welcome]')?.textContent.includes('company')",
        PATIENCE,
    );
    let audio = page.eval(
        "fetch(document.querySelector('#prompts-table tr[data-id=welcome] audio').src).then((r) => r.status)",
    );
    assert_eq!(audio, json!(200), "the prompt plays with the session");
    page.eval("location.hash = '#modules'; true");
    page.wait_for("!!document.querySelector('#modules-table tr[data-id=vip] button.rollback')", PATIENCE);
    page.eval("document.querySelector('#modules-table tr[data-id=vip] button.rollback').click(); true");
    page.wait_for(
        "document.querySelector('#modules-table tr[data-id=vip] .active-version')?.textContent === 'v1'",
        PATIENCE,
    );
    let module = server.operator().get("/api/v1/companies/acme/modules/vip").expect(200, "the module");
    assert_eq!(module["active"], 1, "rolled back from the panel: {module}");
    assert_eq!(module["versions"].as_array().map(Vec::len), Some(2), "{module}");
    no_script_errors(&mut page);
}

#[test]
fn the_live_view_shows_a_call_while_it_lasts() {
    use support::baresip::{DOMAIN, Phone, wait_until_registered};
    let server = Server::start();
    server.create_company("acme", json!({"sip_domain": DOMAIN}));
    let admin = support::merge(
        support::user_body("100"),
        json!({"role": "admin", "portal_password": "acme-admin-pw"}),
    );
    server.operator().post("/api/v1/companies/acme/users", &admin).expect(201, "acme's admin");
    let password = |extension: &str| {
        server.create_user("acme", extension)["sip_password"].as_str().expect("a password").to_string()
    };
    let mut caller = Phone::start(&server, "101", &password("101"), 600);
    let mut callee = Phone::start(&server, "102", &password("102"), 1000);
    wait_until_registered(&server, &mut caller);
    wait_until_registered(&server, &mut callee);
    let browser = Browser::start();
    let mut page = open_panel(&browser, &server);
    log_in(&mut page, "acme", "100", "acme-admin-pw");
    page.wait_for("document.body.dataset.role === 'admin'", PATIENCE);
    page.eval("location.hash = '#live'; true");
    page.wait_for("document.getElementById('live-status')?.textContent === 'Live.'", PATIENCE);

    caller.control.command("dial", "102").unwrap_or_else(|why| panic!("dial 102: {why}"));
    callee.control.wait_event("CALL_ESTABLISHED").unwrap_or_else(|why| panic!("102 did not answer: {why}"));
    page.wait_for(
        "[...document.querySelectorAll('#live-calls tbody tr')].some((row) => row.textContent.includes('102') && row.textContent.includes('connected'))",
        PATIENCE,
    );
    page.screenshot(&artifacts_dir().join("panel-live.png"));
    caller.control.command("hangup", "").unwrap_or_else(|why| panic!("hangup: {why}"));
    callee.control.wait_event("CALL_CLOSED").unwrap_or_else(|why| panic!("the call did not end: {why}"));
    page.wait_for(
        "document.querySelector('#live-calls tbody').textContent.includes('No calls now.')",
        PATIENCE,
    );
    no_script_errors(&mut page);
}
