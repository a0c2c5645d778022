//! The administration CLI: entities, users and invites, drafts from
//! scenario files. Each command opens the database directly (migrating it
//! first), so it works whether or not a server is running on it.

use std::io::Write;
use std::time::Duration;

use accord_model::Scenario;
use accord_store::{InviteKind, NewUser, Role, Store};

use crate::auth;
use crate::cli::first_start;
use crate::config::invite_link;
use crate::config::{AdminDb, Command, DraftCommand, EntityCommand, UserCommand};
use crate::documents::owners;
use crate::drafts::build;

/// Runs an administration command; `out` receives what it prints.
pub async fn run_admin(command: Command, out: &mut impl Write) -> anyhow::Result<()> {
    match command {
        Command::Entity { db, command } => {
            let store = open(&db).await?;
            match command {
                EntityCommand::List => {
                    for entity in store.entities().await? {
                        writeln!(out, "{:<12} {}", entity.code, entity.name)?;
                    }
                }
            }
            store.close().await;
        }
        Command::User { db, command } => {
            let store = open(&db).await?;
            let result = user_command(&store, &db, command, out).await;
            store.close().await;
            result?;
        }
        Command::Draft { db, command } => {
            let store = open(&db).await?;
            let result = draft_command(&store, command, out).await;
            store.close().await;
            result?;
        }
        Command::Status { db, draft, color } => {
            let store = open(&db).await?;
            let result = status_command(&store, draft, &color, out).await;
            store.close().await;
            result?;
        }
        Command::Backup { db, file } => {
            let store = Store::connect(&db.database_url).await?;
            let path = file.to_string_lossy().into_owned();
            let result = store.backup_to(&path).await;
            store.close().await;
            result?;
            writeln!(out, "Backed up to {path}.")?;
        }
        Command::Restore { db, file } => restore(&db, &file, out).await?,
        Command::Export {
            db,
            draft,
            format,
            version,
            out: file,
        } => {
            let store = open(&db).await?;
            let result = export_command(&store, draft, &format, version).await;
            store.close().await;
            let text = result?;
            match file {
                Some(path) => {
                    std::fs::write(&path, text)
                        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
                    writeln!(out, "Exported to {}.", path.display())?;
                }
                None => write!(out, "{text}")?,
            }
        }
        Command::Serve(_) | Command::Migrate { .. } => {
            anyhow::bail!("not an administration command")
        }
    }
    Ok(())
}

async fn open(db: &AdminDb) -> anyhow::Result<Store> {
    let store = Store::connect(&db.database_url).await?;
    store.migrate().await?;
    Ok(store)
}

async fn user_command(
    store: &Store,
    db: &AdminDb,
    command: UserCommand,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    match command {
        UserCommand::Add { name, role, entity } => {
            let name = name.trim().to_owned();
            if name.is_empty() || name.chars().count() > 100 {
                anyhow::bail!("a name has 1 to 100 characters");
            }
            let Some(role) = Role::parse(&role) else {
                anyhow::bail!("--role must be delegate, chair or reviewer, not {role:?}");
            };
            if role == Role::Delegate && entity.is_none() {
                anyhow::bail!("a delegate needs --entity CODE (see `accord entity list`)");
            }
            let user = store
                .add_user(&NewUser {
                    id: build::short_id(),
                    name,
                    role,
                    entity_code: entity,
                })
                .await?;
            let entity = user
                .entity_code
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default();
            writeln!(out, "Added {} {}{entity}.", user.role.as_str(), user.name)?;
            print_invite(store, db, &user.id, out).await?;
        }
        UserCommand::List => {
            for user in store.users().await? {
                writeln!(
                    out,
                    "{:<24} {:<9} {:<10} {}",
                    user.name,
                    user.role.as_str(),
                    user.entity_code.as_deref().unwrap_or("-"),
                    if user.disabled { "disabled" } else { "active" }
                )?;
            }
        }
        UserCommand::Disable { name } => {
            if !store.set_user_disabled(&name, true).await? {
                anyhow::bail!("there is no user named {name:?}");
            }
            writeln!(
                out,
                "Disabled {name}: their sessions and invites no longer work."
            )?;
        }
        UserCommand::Enable { name } => {
            if !store.set_user_disabled(&name, false).await? {
                anyhow::bail!("there is no user named {name:?}");
            }
            writeln!(
                out,
                "Enabled {name}. Send them a fresh invite: accord user invite {name:?}"
            )?;
        }
        UserCommand::Invite { name } => {
            let Some(user) = store.user_by_name(&name).await? else {
                anyhow::bail!("there is no user named {name:?}");
            };
            if user.disabled {
                anyhow::bail!("{name} is disabled: `accord user enable` first");
            }
            let expired = store.expire_invites(&user.id, InviteKind::Invite).await?;
            if expired > 0 {
                writeln!(out, "The earlier unused invite no longer works.")?;
            }
            print_invite(store, db, &user.id, out).await?;
        }
    }
    Ok(())
}

/// Creates an invite and prints the link, then the token alone as the last line.
async fn print_invite(
    store: &Store,
    db: &AdminDb,
    user_id: &str,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let token = auth::new_token();
    let ttl = Duration::from_secs(db.invite_days.max(1) * 86_400);
    let expires_at = crate::clock::now_ms() + ttl.as_millis() as i64;
    store
        .create_invite(
            user_id,
            &auth::token_hash(&token),
            InviteKind::Invite,
            expires_at,
        )
        .await?;
    writeln!(
        out,
        "One-time invite, valid {} days: {}",
        db.invite_days.max(1),
        invite_link(&db.public_url, &token)
    )?;
    writeln!(out, "{token}")?;
    Ok(())
}

async fn draft_command(
    store: &Store,
    command: DraftCommand,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    match command {
        DraftCommand::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let scenario = Scenario::parse(&text)?;
            let actor = owners::server_actor(store).await?;
            let id = first_start::import_scenario(store, &actor, &scenario).await?;
            writeln!(
                out,
                "Created draft {id}: {} ({} elements, {} entities)",
                scenario.draft.title,
                scenario.elements.len(),
                scenario.entities.len()
            )?;
            writeln!(out, "{id}")?;
        }
        DraftCommand::List => {
            for draft in store.drafts().await? {
                writeln!(out, "{}  {}", draft.id, draft.title)?;
            }
        }
    }
    Ok(())
}

async fn export_command(
    store: &Store,
    draft: Option<String>,
    format: &str,
    version: Option<String>,
) -> anyhow::Result<String> {
    let Some(format) = crate::export::Format::parse(format) else {
        anyhow::bail!("--format is md, html or akn, not {format:?}");
    };
    let row = pick_draft(store, draft).await?;
    crate::export::export_offline(store, &row, format, version).await
}

/// The named draft, or the only one.
async fn pick_draft(
    store: &Store,
    draft: Option<String>,
) -> anyhow::Result<accord_store::DraftRow> {
    let drafts = store.drafts().await?;
    match draft {
        Some(id) => drafts
            .into_iter()
            .find(|d| d.id == id)
            .ok_or_else(|| anyhow::anyhow!("there is no draft {id:?} (see `accord draft list`)")),
        None if drafts.len() == 1 => Ok(drafts.into_iter().next().expect("one draft")),
        None => anyhow::bail!("name the draft (see `accord draft list`)"),
    }
}

async fn status_command(
    store: &Store,
    draft: Option<String>,
    color: &str,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let drafts = store.drafts().await?;
    let row = match draft {
        Some(id) => drafts
            .into_iter()
            .find(|d| d.id == id)
            .ok_or_else(|| anyhow::anyhow!("there is no draft {id:?} (see `accord draft list`)"))?,
        None if drafts.len() == 1 => drafts.into_iter().next().expect("one draft"),
        None => anyhow::bail!("name the draft: accord status DRAFT (see `accord draft list`)"),
    };
    let color = match color {
        "always" => true,
        "never" => false,
        "auto" => std::io::IsTerminal::is_terminal(&std::io::stdout()),
        other => anyhow::bail!("--color is auto, always or never, not {other:?}"),
    };
    let elements = store.elements(&row.id).await?;
    let texts = crate::consensus::stored_texts(store, &elements).await?;
    let facts = crate::consensus::gather_with(store, row, elements, texts).await?;
    write!(
        out,
        "{}",
        crate::cli::status::render(&facts, color, crate::clock::now_ms())
    )?;
    Ok(())
}

/// Copies a SQLite backup to the (new) database file the URL names, then
/// opens it, brings its schema up to date and counts what it holds.
async fn restore(db: &AdminDb, file: &std::path::Path, out: &mut impl Write) -> anyhow::Result<()> {
    let url = db.database_url.as_str();
    let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    else {
        anyhow::bail!(
            "restore brings a SQLite backup back; for PostgreSQL use pg_restore or psql on a pg_dump (see the README)"
        );
    };
    let target = std::path::PathBuf::from(rest.split('?').next().unwrap_or(rest));
    if target.exists() {
        anyhow::bail!("{} exists: restore into a new file", target.display());
    }
    if !file.is_file() {
        anyhow::bail!("{} is not a backup file", file.display());
    }
    std::fs::copy(file, &target)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", target.display()))?;
    let store = open(db).await?;
    let drafts = store.drafts().await?;
    store.close().await;
    writeln!(
        out,
        "Restored {} drafts into {}.",
        drafts.len(),
        target.display()
    )?;
    Ok(())
}
