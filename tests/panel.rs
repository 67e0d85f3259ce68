//! Black-box tests of the web panel (issue 7) in headless Chromium: the one login page
//! for the three roles, the operator's companies, a company admin's users, a user's
//! portal; sessions confined to their company, changes that need the CSRF token, logins
//! in the audit log, and no script errors on the pages.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::Server;
use support::browser::{Script, path_of};
use support::chromium::{Browser, Page, artifacts_dir};
use support::firefox::Firefox;

/// How long a page may take to show something: a bound, not a claim.
const PATIENCE: Duration = Duration::from_secs(20);

/// Records the page's script errors (uncaught, unhandled rejections, console.error) in
/// `window.__errors`, installed before the page's own scripts run.
const ERROR_TRAP: &str = "window.__errors = [];
  addEventListener('error', (e) => window.__errors.push(String(e.message)));
  addEventListener('unhandledrejection', (e) => window.__errors.push(String(e.reason)));
  const consoleError = console.error;
  console.error = (...args) => { window.__errors.push(args.join(' ')); consoleError(...args); };";

/// The panel of `server` in a new tab, with the error trap and the browser's console
/// log (where failed requests show) recorded.
fn open_panel(browser: &Browser, server: &Server) -> Page {
    let mut page = browser.open("about:blank");
    page.call("Log.enable", json!({}));
    page.call("Page.enable", json!({}));
    page.call("Page.addScriptToEvaluateOnNewDocument", json!({"source": ERROR_TRAP}));
    page.call("Page.navigate", json!({"url": server.url("/")}));
    page.wait_for("window.panelReady === true", PATIENCE);
    page
}

/// Assert the page had no script errors and no console errors, where the failed requests
/// the test provoked on purpose are `expected`, each as "STATUS path" ("401 /panel/login").
fn no_console_errors(page: &mut Page, expected: &[&str]) {
    assert_eq!(page.eval("window.__errors"), json!([]), "script errors on the page");
    let mut unexpected = Vec::new();
    for logged in page.take_events("Log.entryAdded") {
        let entry = &logged["entry"];
        if entry["level"] != "error" {
            continue;
        }
        let text = entry["text"].as_str().unwrap_or_default();
        let status = text.split("status of ").nth(1).and_then(|rest| rest.split(' ').next());
        let request = match (entry["source"].as_str(), status, entry["url"].as_str()) {
            (Some("network"), Some(status), Some(url)) => format!("{status} {}", path_of(url)),
            _ => format!("{}: {text}", entry["source"]),
        };
        if !expected.contains(&request.as_str()) {
            unexpected.push(request);
        }
    }
    assert_eq!(unexpected, Vec::<String>::new(), "console errors besides the expected {expected:?}");
}

/// Log in through the form.
fn log_in(page: &mut impl Script, company: &str, user: &str, password: &str) {
    page.eval(&format!(
        "(() => {{ const form = document.getElementById('login-form');
         form.company.value = {}; form.user.value = {}; form.password.value = {};
         form.requestSubmit(); return true; }})()",
        json!(company),
        json!(user),
        json!(password)
    ));
}

/// Log out with the header's button and wait for the login form.
fn log_out(page: &mut impl Script) {
    page.eval("document.getElementById('logout').click(); true");
    page.wait_for("!!document.getElementById('login-form')", PATIENCE);
}

/// Fill form `id` with `values` (by field name) and submit it.
fn submit(page: &mut impl Script, id: &str, values: &Value) {
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
    // The standard modules that ship with the host, what each decides, and who replaced it.
    server
        .upload_module("globex", "did-router", support::guest_bytes("vip-router"), "")
        .expect(201, "globex's own");
    page.eval("location.hash = '#standard-modules'; true");
    page.wait_for("!!document.querySelector('#standard-modules-table tr[data-id=did-router]')", PATIENCE);
    let row = |page: &mut Page, name: &str| {
        page.eval(&format!(
            "document.querySelector('#standard-modules-table tr[data-id={name}]').textContent"
        ))
    };
    let router = row(&mut page, "did-router");
    assert!(router.as_str().is_some_and(|r| r.contains("did-routing") && r.contains("globex")), "{router}");
    let ivr = row(&mut page, "ivr");
    assert!(ivr.as_str().is_some_and(|r| r.contains("no company")), "{ivr}");
    // The operator's own version of did-router decides for every company without one;
    // "Use standard" gives them the built-in one again.
    page.choose_file("#upload-module input[type=file]", &support::guest_wasm("vip-router"));
    page.eval("(() => { const form = document.getElementById('upload-module'); form.name.value = 'did-router'; form.requestSubmit(); return true; })()");
    let decides = "document.querySelector('#standard-modules-table tr[data-id=did-router] .active-version')?.textContent";
    page.wait_for(&format!("{decides} === \"operator's v1\""), PATIENCE);
    page.screenshot(&artifacts_dir().join("panel-standard-modules.png"));
    let listed = server.operator().get("/api/v1/standard-modules").expect(200, "standard modules");
    let router = listed.as_array().into_iter().flatten().find(|m| m["name"] == "did-router");
    assert_eq!(router.map(|m| m["active"].clone()), Some(json!(1)), "{listed}");
    page.eval("document.querySelector('#standard-modules-table tr[data-id=did-router] button.use-standard').click(); true");
    page.wait_for(&format!("{decides} === 'built in'"), PATIENCE);
    // The operator opens globex and manages it as its admin would: a user added there.
    page.eval("location.hash = '#companies'; true");
    page.wait_for(
        "!!document.querySelector('#companies-table tr[data-id=globex] button.open-company')",
        PATIENCE,
    );
    page.eval(
        "document.querySelector('#companies-table tr[data-id=globex] button.open-company').click(); true",
    );
    page.wait_for("document.getElementById('opened-company')?.textContent === 'globex' && !!document.getElementById('create-users')", PATIENCE);
    submit(
        &mut page,
        "create-users",
        &json!({"extension": "200", "full_name": "Gil", "email": "gil@globex.test"}),
    );
    page.wait_for("!!document.querySelector('#users-table tr[data-id=\"200\"]')", PATIENCE);
    server
        .operator()
        .get("/api/v1/companies/globex/users/200")
        .expect(200, "made by the operator in the panel");
    page.eval("document.getElementById('close-company').click(); true");
    page.wait_for("!!document.getElementById('companies-table')", PATIENCE);
    no_console_errors(&mut page, &["401 /panel/login", "422 /api/v1/companies", "422 /api/v1/service-codes"]);

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
    // On a phone's screen the page does not scroll sideways and each row's buttons are
    // there (a wide table scrolls inside its section).
    let phone = json!({"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true});
    page.call("Emulation.setDeviceMetricsOverride", phone);
    page.wait_for("window.innerWidth === 390", PATIENCE);
    assert_eq!(page.eval("document.documentElement.scrollWidth <= window.innerWidth"), json!(true));
    let edit = "document.querySelector('#users-table tr[data-id=\"101\"] button.edit').getBoundingClientRect().width > 0";
    assert_eq!(page.eval(edit), json!(true), "the edit button shows on a phone");
    page.screenshot(&artifacts_dir().join("panel-phone.png"));
    page.call("Emulation.clearDeviceMetricsOverride", json!({}));
    no_console_errors(&mut page, &[]);

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
    // Its agent added as a row of the agents editor.
    page.eval(
        "(() => { const form = document.getElementById('create-queues');
           form.name.value = 'sales'; form.number.value = '500';
           form.querySelector('button.add-row').click();
           const agent = form.querySelector('.row [data-name=extension]');
           agent.value = '101'; agent.dispatchEvent(new Event('input', {bubbles: true}));
           form.requestSubmit(); return true; })()",
    );
    page.wait_for(
        "document.querySelector('#queues-table tr[data-id=sales]')?.textContent.includes('101 (1)')",
        PATIENCE,
    );
    let queue = server.operator().get("/api/v1/companies/acme/queues/sales").expect(200, "the queue");
    assert_eq!(queue["members"], json!([{"extension": "101", "order": 1}]), "{queue}");
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
    // A second DID with a time rule, made in the rules editor: weekdays 09:00-18:00
    // (Madrid) ring 100, else the queue. A bad pattern first: its error names the rule.
    let fill_rule = |page: &mut Page, weekday: &str| {
        page.eval(&format!(
            "(() => {{ const form = document.getElementById('create-dids');
               form.number.value = '34910000001'; form.default_destination.value = 'queue:sales';
               form.description.value = 'office hours';
               if (!form.querySelector('.row')) form.querySelector('button.add-row').click();
               const rule = form.querySelector('.row');
               const set = (name, value) => {{ const input = rule.querySelector(`[data-name=${{name}}]`);
                 input.value = value; input.dispatchEvent(new Event('input', {{bubbles: true}})); }};
               set('weekday', {}); set('start_time', '09:00'); set('end_time', '18:00');
               set('destination', 'extension:100'); form.requestSubmit(); return true; }})()",
            json!(weekday)
        ));
    };
    fill_rule(&mut page, "[1-5");
    page.wait_for(
        "document.querySelector('[data-field=rules]').textContent.startsWith('Row 1, weekday:')",
        PATIENCE,
    );
    assert_eq!(
        page.eval("document.querySelector('.row [data-name=weekday]').classList.contains('invalid')"),
        json!(true)
    );
    fill_rule(&mut page, "[1-5]");
    page.wait_for("!!document.querySelector('#dids-table tr[data-id=\"34910000001\"]')", PATIENCE);
    let did = server.operator().get("/api/v1/companies/acme/dids/34910000001").expect(200, "the DID");
    assert_eq!(did["description"], "office hours", "{did}");
    assert_eq!(did["rules"][0]["weekday"], "[1-5]", "{did}");
    let shown = page.eval("document.querySelector('#dids-table tr[data-id=\"34910000001\"]').textContent");
    assert!(
        shown.as_str().is_some_and(|row| row.contains("weekday [1-5] · 09:00–18:00 → extension:100")),
        "{shown}"
    );
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
    // A rule removed in an edit is gone, and an optional field emptied is cleared.
    page.eval("document.querySelector('#dids-table tr[data-id=\"34910000001\"] button.edit').click(); true");
    page.wait_for(
        "document.querySelector('#create-dids .row [data-name=start_time]')?.value === '09:00'",
        PATIENCE,
    );
    page.eval("document.querySelector('#create-dids .row button.remove-row').click(); true");
    submit(&mut page, "create-dids", &json!({"description": ""}));
    page.wait_for(
        "document.querySelector('#dids-table tr[data-id=\"34910000001\"]')?.textContent.includes('office hours') === false",
        PATIENCE,
    );
    let did = server.operator().get("/api/v1/companies/acme/dids/34910000001").expect(200, "the DID");
    assert_eq!((did["rules"].clone(), did["description"].clone()), (json!([]), json!("")), "{did}");
    assert_eq!(try_at(&mut page, "2026-11-23T10:00"), json!("→ queue:sales"), "no rule any more");
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
    // A chosen week: a bar per day, and the queues' waits over the same days.
    submit(&mut page, "cdr-filters", &json!({"from": "2026-11-16", "to": "2026-11-22"}));
    page.wait_for(
        "document.querySelector('#queue-waits')?.previousElementSibling?.textContent.includes('2026-11-16')",
        PATIENCE,
    );
    page.wait_for("document.querySelectorAll('#cdr-days rect[data-day]').length === 7", PATIENCE);
    assert_eq!(
        page.eval("document.querySelector('#cdr-days rect[data-day]').dataset.day"),
        json!("2026-11-16")
    );
    page.wait_for("!!document.querySelector('#queue-waits rect[data-queue=sales]')", PATIENCE);
    let csv = page.eval("fetch(document.getElementById('cdr-csv').href).then((r) => r.status)");
    assert_eq!(csv, json!(200), "the CSV downloads with the session");
    no_console_errors(
        &mut page,
        &[
            "422 /api/v1/companies/acme/users/import",
            "422 /api/v1/companies/acme/dids",
            "409 /api/v1/companies/acme/queues/sales",
        ],
    );

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
    log_out(&mut page);
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
    no_console_errors(
        &mut page,
        &[
            "403 /api/v1/companies/globex/users",
            "403 /api/v1/companies/acme/users",
            "403 /api/v1/companies/acme/users/100/devices",
        ],
    );
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
    // A DID picks its deciding module from the company's modules that route DIDs.
    page.eval("location.hash = '#dids'; true");
    page.wait_for("!!document.querySelector('#create-dids select[name=module] option[value=vip]')", PATIENCE);
    submit(
        &mut page,
        "create-dids",
        &json!({"number": "34910000009", "default_destination": "hang_up", "module": "vip"}),
    );
    page.wait_for("!!document.querySelector('#dids-table tr[data-id=\"34910000009\"]')", PATIENCE);
    let did = server.operator().get("/api/v1/companies/acme/dids/34910000009").expect(200, "the DID");
    assert_eq!(did["module"], "vip", "{did}");
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
    no_console_errors(&mut page, &[]);
}

#[test]
fn a_call_shows_live_then_in_the_calls_list_and_the_callers_portal_has_its_recording_and_voicemail() {
    use support::baresip::{DOMAIN, Phone, wait_until_registered};
    let server = Server::start();
    server.create_company("acme", json!({"sip_domain": DOMAIN}));
    let op = server.operator();
    let admin = support::merge(
        support::user_body("100"),
        json!({"role": "admin", "portal_password": "acme-admin-pw"}),
    );
    op.post("/api/v1/companies/acme/users", &admin).expect(201, "acme's admin");
    // 101 records every call and owns voicemail box 800.
    let bea = support::merge(
        support::user_body("101"),
        json!({"portal_password": "bea-portal-pw", "recording": {"mode": "always", "announce": false}}),
    );
    let bea = op.post("/api/v1/companies/acme/users", &bea).expect(201, "user 101");
    let box_body = json!({"name": "bea", "number": "800", "pin": "4321", "owner": "101"});
    op.post("/api/v1/companies/acme/voicemail-boxes", &box_body).expect(201, "101's box");
    let luis = server.create_user("acme", "102");
    let password = |user: &Value| user["sip_password"].as_str().expect("a SIP password").to_string();
    let mut caller = Phone::start(&server, "101", &password(&bea), 600);
    let mut callee = Phone::start(&server, "102", &password(&luis), 1000);
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
    std::thread::sleep(Duration::from_secs(2));
    caller.control.command("hangup", "").unwrap_or_else(|why| panic!("hangup: {why}"));
    callee.control.wait_event("CALL_CLOSED").unwrap_or_else(|why| panic!("the call did not end: {why}"));
    page.wait_for(
        "document.querySelector('#live-calls tbody').textContent.includes('No calls now.')",
        PATIENCE,
    );

    // The call, found in the calls list by its number, and counted on today's bar.
    server.first_cdr("acme");
    page.eval("location.hash = '#cdrs'; true");
    page.wait_for("document.getElementById('cdr-summary')?.textContent !== ''", PATIENCE);
    submit(&mut page, "cdr-filters", &json!({"number": "102", "status": "answered"}));
    page.wait_for(
        "document.getElementById('cdr-summary').textContent.startsWith('1 calls') && [...document.querySelectorAll('#cdrs-table tbody tr')].some((row) => row.textContent.includes('101') && row.textContent.includes('102'))",
        PATIENCE,
    );
    assert_eq!(page.eval("[...document.querySelectorAll('#cdr-days rect[data-day]')].map((bar) => Number(bar.dataset.calls)).reduce((a, b) => a + b, 0)"), json!(1));
    page.screenshot(&artifacts_dir().join("panel-calls.png"));

    // 102 leaves a message in 101's box.
    callee.control.command("dial", "800").unwrap_or_else(|why| panic!("dial 800: {why}"));
    callee
        .control
        .wait_event("CALL_ESTABLISHED")
        .unwrap_or_else(|why| panic!("the box did not answer: {why}"));
    // The system greeting lasts about 5 s, then the beep: this leaves about 3 s of tone.
    std::thread::sleep(Duration::from_secs(9));
    callee.control.command("hangup", "").unwrap_or_else(|why| panic!("hangup: {why}"));
    let messages = "/api/v1/companies/acme/voicemail-boxes/bea/messages";
    let deadline = std::time::Instant::now() + PATIENCE;
    while op.get(messages).expect(200, "messages").as_array().is_none_or(Vec::is_empty) {
        assert!(std::time::Instant::now() < deadline, "no message was left");
        std::thread::sleep(Duration::from_millis(200));
    }
    no_console_errors(&mut page, &[]);

    // 101's portal: the recording of their call, and their voicemail.
    log_out(&mut page);
    log_in(&mut page, "acme", "101", "bea-portal-pw");
    page.wait_for("document.body.dataset.role === 'user'", PATIENCE);
    page.eval("location.hash = '#recordings'; true");
    page.wait_for("document.querySelectorAll('#recordings-table audio').length === 1", PATIENCE);
    let audio =
        page.eval("fetch(document.querySelector('#recordings-table audio').src).then((r) => r.status)");
    assert_eq!(audio, json!(200), "their recording plays");
    page.eval("location.hash = '#voicemail'; true");
    page.wait_for("!!document.querySelector('#my-voicemail [data-box=bea] button.heard')", PATIENCE);
    let audio = page.eval(
        "fetch(document.querySelector('#my-voicemail [data-box=bea] audio').src).then((r) => r.status)",
    );
    assert_eq!(audio, json!(200), "their message plays");
    page.eval("document.querySelector('#my-voicemail [data-box=bea] button.heard').click(); true");
    page.wait_for(
        "document.querySelector('#my-voicemail [data-box=bea] tbody tr')?.className === 'heard'",
        PATIENCE,
    );
    assert_eq!(op.get(messages).expect(200, "messages")[0]["heard"], true, "marked heard in the portal");
    page.screenshot(&artifacts_dir().join("panel-portal-voicemail.png"));
    no_console_errors(&mut page, &[]);

    // The admin deletes the recordings in bulk.
    log_out(&mut page);
    log_in(&mut page, "acme", "100", "acme-admin-pw");
    page.wait_for("document.body.dataset.role === 'admin'", PATIENCE);
    page.eval("location.hash = '#recordings'; true");
    page.wait_for("document.querySelectorAll('#recordings-table input.tick').length === 1", PATIENCE);
    page.eval("(() => { const all = document.querySelector('#recordings-table thead input[type=checkbox]'); all.checked = true; all.dispatchEvent(new Event('change')); return true; })()");
    page.eval("document.querySelector('button.delete-selected').click(); true");
    page.wait_for("document.querySelectorAll('#recordings-table input.tick').length === 0", PATIENCE);
    let left = op.get("/api/v1/companies/acme/recordings").expect(200, "recordings");
    assert_eq!(left["total"], 0, "deleted in bulk: {left}");
    no_console_errors(&mut page, &[]);
}

/// Show every section of the menu in turn and wait until each has drawn without an error
/// beside its lists or forms; each section's kind is returned.
fn visit_every_section(page: &mut impl Script) -> Vec<String> {
    let kinds = page.eval("[...document.querySelectorAll('#sections a')].map((a) => a.dataset.kind)");
    let kinds: Vec<String> = serde_json::from_value(kinds).expect("the menu's sections");
    for kind in &kinds {
        page.eval(&format!("location.hash = {}; true", json!(format!("#{kind}"))));
        page.wait_for(
            &format!(
                "document.querySelector('#sections a.current')?.dataset.kind === {} && !!document.querySelector('#content section')",
                json!(kind)
            ),
            PATIENCE,
        );
        // Lists load after the section draws: give them the time a person would.
        std::thread::sleep(Duration::from_millis(300));
        let errors = page.eval(
            "[...document.querySelectorAll('#content .error')].map((e) => e.textContent).filter(Boolean)",
        );
        assert_eq!(errors, json!([]), "errors shown in section {kind}");
    }
    kinds
}

#[test]
fn in_firefox_each_role_logs_in_and_every_section_works_without_errors() {
    let server = Server::start();
    server.create_company("acme", json!({}));
    let op = server.operator();
    let admin = support::merge(
        support::user_body("100"),
        json!({"role": "admin", "portal_password": "acme-admin-pw"}),
    );
    op.post("/api/v1/companies/acme/users", &admin).expect(201, "acme's admin");
    let bea = support::merge(support::user_body("101"), json!({"portal_password": "bea-portal-pw"}));
    op.post("/api/v1/companies/acme/users", &bea).expect(201, "user 101");
    let mut firefox = Firefox::start();
    firefox.navigate(&server.url("/"));
    firefox.wait_for("window.panelReady === true", PATIENCE);

    log_in(&mut firefox, "", "operator", "not-the-token");
    firefox.wait_for(
        "document.getElementById('login-error')?.textContent === 'wrong user or password'",
        PATIENCE,
    );
    log_in(&mut firefox, "", "operator", support::OPERATOR_TOKEN);
    firefox.wait_for("!!document.getElementById('companies-table')", PATIENCE);
    submit(
        &mut firefox,
        "create-companies",
        &json!({"id": "globex", "name": "Globex", "max_extensions": "20", "time_zone": "Europe/Madrid"}),
    );
    firefox.wait_for("!!document.querySelector('#companies-table tr[data-id=globex]')", PATIENCE);
    let operator = visit_every_section(&mut firefox);
    assert!(operator.contains(&"standard-modules".to_string()), "{operator:?}");
    firefox.screenshot(&artifacts_dir().join("panel-firefox-operator.png"));

    log_out(&mut firefox);
    log_in(&mut firefox, "acme", "100", "acme-admin-pw");
    firefox.wait_for("document.body.dataset.role === 'admin'", PATIENCE);
    firefox.eval("location.hash = '#users'; true");
    firefox.wait_for("!!document.querySelector('#users-table tr[data-id=\"101\"]')", PATIENCE);
    submit(
        &mut firefox,
        "create-users",
        &json!({"extension": "102", "full_name": "Luis", "email": "luis@acme.test"}),
    );
    firefox.wait_for("!!document.querySelector('#users-table tr[data-id=\"102\"]')", PATIENCE);
    firefox.eval("location.hash = '#modules'; true");
    firefox.wait_for("!!document.getElementById('upload-module')", PATIENCE);
    firefox.choose_file("#upload-module input[type=file]", &support::guest_wasm("vip-router"));
    firefox.eval("(() => { const form = document.getElementById('upload-module'); form.name.value = 'vip'; form.requestSubmit(); return true; })()");
    firefox.wait_for(
        "document.querySelector('#modules-table tr[data-id=vip] .active-version')?.textContent === 'v1'",
        PATIENCE,
    );
    firefox.eval("location.hash = '#dids'; true");
    firefox
        .wait_for("!!document.querySelector('#create-dids select[name=module] option[value=vip]')", PATIENCE);
    submit(
        &mut firefox,
        "create-dids",
        &json!({"number": "34910000000", "default_destination": "extension:101", "module": ""}),
    );
    firefox.wait_for("!!document.querySelector('#dids-table tr[data-id=\"34910000000\"]')", PATIENCE);
    submit(&mut firefox, "try-did", &json!({"number": "34910000000", "caller": "600111222"}));
    firefox.wait_for("document.getElementById('try-result').textContent === '→ extension:101'", PATIENCE);
    firefox.screenshot(&artifacts_dir().join("panel-firefox-dids.png"));
    // A menu whose key 1 rings 101, its key added as a row of the keys editor.
    firefox.eval("location.hash = '#ivr-menus'; true");
    firefox.wait_for("!!document.getElementById('create-ivr-menus')", PATIENCE);
    firefox.eval(
        "(() => { const form = document.getElementById('create-ivr-menus');
           form.name.value = 'main'; form.number.value = '800';
           form.querySelector('button.add-row').click();
           const set = (name, value) => { const input = form.querySelector(`.row [data-name=${name}]`);
             input.value = value; input.dispatchEvent(new Event('input', {bubbles: true})); };
           set('key', '1'); set('destination', 'extension:101'); form.requestSubmit(); return true; })()",
    );
    firefox.wait_for(
        "document.querySelector('#ivr-menus-table tr[data-id=main]')?.textContent.includes('1 → extension:101')",
        PATIENCE,
    );
    let admin_sections = visit_every_section(&mut firefox);
    assert!(admin_sections.len() >= 15, "{admin_sections:?}");
    firefox.eval("location.hash = '#cdrs'; true");
    firefox.wait_for("document.querySelectorAll('#cdr-chart rect').length === 48", PATIENCE);
    firefox.screenshot(&artifacts_dir().join("panel-firefox-calls.png"));

    log_out(&mut firefox);
    log_in(&mut firefox, "acme", "101", "bea-portal-pw");
    firefox.wait_for("document.body.dataset.role === 'user'", PATIENCE);
    visit_every_section(&mut firefox);
    firefox.screenshot(&artifacts_dir().join("panel-firefox-portal.png"));

    assert_eq!(firefox.take_errors(), ["401 /panel/login"], "only the wrong login failed");
}
