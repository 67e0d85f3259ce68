//! `serve --demo`: a demo company so a fresh install has something to route.

use chrono::Utc;

use crate::api::users::generate_sip_password;
use crate::app::App;
use crate::audit::Actor;
use crate::sandbox::limits::{DEFAULT_DEADLINE_MS, DEFAULT_MEMORY_MIB};
use crate::store::records::*;
use crate::store::*;

/// The demo company's id.
pub const COMPANY: &str = "demo";
/// The demo DID.
pub const DID: &str = "34910000000";

/// Create the demo company unless it exists.
pub fn ensure(app: &App) -> Result<(), StoreError> {
    let actor = Actor::system();
    app.store.write(|tx| {
        if tx.get(&COMPANIES, COMPANY)?.is_some() {
            return Ok(());
        }
        let now = Utc::now();
        tx.put(
            &COMPANIES,
            COMPANY,
            &Company {
                id: COMPANY.into(),
                name: "Demo Company".into(),
                max_extensions: 20,
                time_zone: "Europe/Madrid".into(),
                sip_domain: "demo.centralita.local".into(),
                trunk: None,
                secondary_trunk: None,
                decision_deadline_ms: DEFAULT_DEADLINE_MS,
                decision_memory_mib: DEFAULT_MEMORY_MIB,
                permissions_module: default_permissions_module(),
                permissions_config: empty_object(),
                recording_retention_days: None,
                recording_quota_mb: None,
                dialling: Default::default(),
                created_at: now,
            },
        )?;
        tx.put(&SIP_DOMAINS, &sip_domain_key("demo.centralita.local"), &COMPANY.to_string())?;
        for (extension, name, email) in
            [("100", "Ana Reception", "ana@demo.example"), ("101", "Bruno Sales", "bruno@demo.example")]
        {
            let user = User {
                company: COMPANY.into(),
                extension: extension.into(),
                role: Role::User,
                email: email.into(),
                full_name: name.into(),
                portal_password_hash: None,
                internal_only: false,
                mobile: None,
                sip_password: generate_sip_password(),
                sip_password_expires_at: None,
                outgoing_caller_id: Some(DID.into()),
                recording: Default::default(),
                web_phone_mode: Default::default(),
                created_at: now,
            };
            tx.put(&USERS, &company_key(COMPANY, extension), &user)?;
        }
        let weekdays = |order, start: &str, end: &str, to: &str| DidRule {
            order,
            year: ".".into(),
            month: ".".into(),
            day: ".".into(),
            weekday: "[1-5]".into(),
            start_time: Some(start.into()),
            end_time: Some(end.into()),
            caller_id: ".".into(),
            destination: Destination::Extension(to.into()),
            announcement: None,
            prefix: None,
            description: format!("weekdays {start}-{end}"),
        };
        let did = Did {
            company: COMPANY.into(),
            number: DID.into(),
            description: "Demo main line".into(),
            forward: None,
            rules: vec![weekdays(1, "09:00", "14:00", "100"), weekdays(2, "16:00", "19:00", "101")],
            default_destination: Destination::HangUp,
            fallback_destination: Some(Destination::Extension("100".into())),
            module: "did-router".into(),
            config: serde_json::json!({}),
        };
        tx.put(&DIDS, &company_key(COMPANY, DID), &did)?;
        tx.put(&DID_OWNERS, DID, &COMPANY.to_string())?;
        tx.audit(actor.entry(Some(COMPANY), "company.create", COMPANY.into(), Some("demo data".into())))?;
        tracing::info!(company = COMPANY, did = DID, "demo company created");
        Ok(())
    })
}
