use clap::Parser;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use accord::config::{Cli, Command};

/// jemalloc with background threads returns freed memory to the system
/// within seconds (glibc's malloc kept hundreds of MiB after a thousand
/// stuck connections had gone).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // automerge instruments hot functions with INFO spans whose arguments
    // are formatted on every call: keep them off unless asked for.
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if spec.contains("automerge") => EnvFilter::new(spec),
        Ok(spec) => EnvFilter::new(format!("{spec},automerge=warn")),
        Err(_) => EnvFilter::new("info,automerge=warn"),
    };
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(config) => {
            // Before anything else: a second server on this database stops here.
            let lock = accord_store::InstanceLock::acquire(&config.database_url).await?;
            let listener = tokio::net::TcpListener::bind(config.listen).await?;
            let shutdown = CancellationToken::new();
            tokio::spawn(accord::shutdown_on_signal(shutdown.clone()));
            accord::run(config, listener, shutdown, lock).await
        }
        Command::Migrate { database_url } => {
            let store = accord_store::Store::connect(&database_url).await?;
            store.migrate().await?;
            tracing::info!(backend = store.backend_name(), "schema is up to date");
            Ok(())
        }
        admin => accord::run_admin(admin, &mut std::io::stdout().lock()).await,
    }
}
