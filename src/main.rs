//! The `microcred` command: serve, migrate, manage platforms and keys.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use microcred::config::Settings;
use microcred::platforms::{self, PlatformInput};
use microcred::startup::{self, Application};
use microcred::{keys, store, telemetry};

/// mimalloc instead of the system allocator: under launch load glibc's
/// malloc and free took about a tenth of the tool's CPU, much of it on
/// the SQLite connection threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `arena_eager_commit` option. Left on (its default on Linux),
/// memory the tool had freed stayed resident: 42 MB at idle instead of 25.
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

/// Turn `arena_eager_commit` off by default. mimalloc reads the option
/// when it sets up its first arena, at the first allocation, which the
/// Rust runtime makes before `main`, so this runs from `.init_array`, as
/// the process loads. The `MIMALLOC_ARENA_EAGER_COMMIT` environment
/// variable still overrides it.
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static SET_ALLOCATOR_DEFAULTS: extern "C" fn() = set_allocator_defaults;

#[cfg(target_os = "linux")]
extern "C" fn set_allocator_defaults() {
    // SAFETY: this only stores a default in mimalloc's option table and allocates nothing.
    unsafe { libmimalloc_sys::mi_option_set_default(MI_OPTION_ARENA_EAGER_COMMIT, 0) };
}

/// The help pages' note on the settings every command reads, and their order.
const SETTINGS_HELP: &str = "Every command reads the same settings: the built-in defaults, then --config FILE, then \
                             MICROCRED__ environment variables (MICROCRED__DATABASE__URL names the database).";

#[derive(Parser)]
#[command(
    name = "microcred",
    version,
    about = "An LTI 1.3 tool for educator micro-credentials",
    after_help = SETTINGS_HELP
)]
struct Cli {
    /// A TOML file whose settings override the built-in defaults.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Start the HTTP server (the default).
    #[command(after_help = SETTINGS_HELP)]
    Serve,
    /// Apply pending database migrations and exit.
    #[command(after_help = SETTINGS_HELP)]
    Migrate,
    /// Manage LMS platform registrations.
    #[command(subcommand)]
    Platform(PlatformCommand),
    /// Manage the tool's signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Subcommand)]
enum PlatformCommand {
    /// Register a platform, or update one with the same issuer and client id.
    #[command(after_help = SETTINGS_HELP)]
    Add(PlatformAddArgs),
    /// List registrations and their deployments.
    List,
    /// Approve a pending registration, or enable a disabled one.
    Approve(RegistrationKey),
    /// Disable a registration; its users and their work are kept.
    Disable(RegistrationKey),
    /// Disable a registration and hide it from the admin list; its users and
    /// their work are kept.
    Remove(RegistrationKey),
}

#[derive(Args)]
struct RegistrationKey {
    #[arg(long)]
    issuer: String,
    #[arg(long)]
    client_id: String,
}

#[derive(Args)]
struct PlatformAddArgs {
    /// The platform's issuer, exactly as it appears in its id_tokens.
    #[arg(long)]
    issuer: String,
    /// The client id the platform assigned to microcred.
    #[arg(long)]
    client_id: String,
    /// A deployment id the platform assigned; repeat for several.
    #[arg(long = "deployment-id")]
    deployment_ids: Vec<String>,
    /// The platform's OIDC authorization endpoint.
    #[arg(long)]
    auth_url: String,
    /// The platform's OAuth 2 token endpoint.
    #[arg(long)]
    token_url: String,
    /// The URL of the platform's public key set (JWKS).
    #[arg(long)]
    jwks_url: String,
    /// The `aud` for token requests when it is not the token URL.
    #[arg(long)]
    token_audience: Option<String>,
    /// Let this LMS's administrators manage every registration in the tool's
    /// admin pages (approve, disable and add registrations).
    #[arg(long)]
    manages_registrations: bool,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// List the tool's keys and their states.
    List,
    /// Run one rotation step: publish a new key, promote the previously published one.
    Rotate,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("error: the configuration is invalid: {error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings.log);
    match run(cli.command.unwrap_or(Command::Serve), settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "microcred failed");
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => Application::build(settings).await?.run().await,
        Command::Migrate => {
            let db = store::connect(&settings.database).await?;
            store::migrate(&db).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Platform(command) => {
            let db = startup::prepare_database(&settings).await?;
            match command {
                PlatformCommand::Add(args) => {
                    let input = PlatformInput {
                        issuer: args.issuer,
                        client_id: args.client_id,
                        deployment_ids: args.deployment_ids,
                        auth_url: args.auth_url,
                        token_url: args.token_url,
                        jwks_url: args.jwks_url,
                        token_audience: args.token_audience,
                        manages_registrations: args.manages_registrations,
                    };
                    let (platform, deployments) = platforms::add(&db, input).await?;
                    println!("stored registration {}", platform.id);
                    print_platform(&platform, &deployments);
                }
                PlatformCommand::List => {
                    let all = platforms::list(&db).await?;
                    if all.is_empty() {
                        println!("no platforms registered; add one with `microcred platform add`");
                    }
                    for (platform, deployments) in all {
                        print_platform(&platform, &deployments);
                        println!();
                    }
                }
                PlatformCommand::Approve(key) => {
                    let platform = platforms::approve(&db, platforms::find(&db, &key.issuer, &key.client_id).await?).await?;
                    println!("approved registration {} ({} / {})", platform.id, platform.issuer, platform.client_id);
                }
                PlatformCommand::Disable(key) => {
                    let platform = platforms::disable(&db, platforms::find(&db, &key.issuer, &key.client_id).await?).await?;
                    println!(
                        "disabled registration {} ({} / {}); its users and their work are kept",
                        platform.id, platform.issuer, platform.client_id
                    );
                }
                PlatformCommand::Remove(key) => {
                    let platform = platforms::remove(&db, platforms::find(&db, &key.issuer, &key.client_id).await?).await?;
                    println!(
                        "removed registration {} ({} / {}); its users and their work are kept, \
                         and adding it again brings it back",
                        platform.id, platform.issuer, platform.client_id
                    );
                }
            }
            Ok(())
        }
        Command::Keys(command) => {
            let db = startup::prepare_database(&settings).await?;
            if let KeysCommand::Rotate = command {
                let report = keys::rotate(&db, settings.keys.rotation_times()).await?;
                if let Some(kid) = &report.activated {
                    println!("now signing with {kid}");
                }
                for kid in &report.retiring {
                    println!("retiring {kid} (published for {} more hours)", settings.keys.retire_after_hours);
                }
                for kid in &report.retired {
                    println!("retired {kid}");
                }
                if let Some(kid) = &report.created_next {
                    println!("published {kid} (signs from the next rotation)");
                }
                if let Some((kid, at)) = &report.waiting {
                    println!(
                        "nothing promoted: {kid} was published too recently to sign; rotate again after {} \
                         (keys.min_published_secs)",
                        at.to_rfc3339()
                    );
                }
            }
            for key in store::keys::all(&db).await? {
                let retire = key.retire_after.map(|at| format!(" until {}", at.to_rfc3339())).unwrap_or_default();
                println!("{}  {}{}  created {}", key.kid, key.status, retire, key.created_at.to_rfc3339());
            }
            Ok(())
        }
    }
}

fn print_platform(
    platform: &microcred::store::entities::platform::Model,
    deployments: &[microcred::store::entities::deployment::Model],
) {
    println!("issuer:          {}", platform.issuer);
    println!("client id:       {}", platform.client_id);
    println!("status:          {}", platform.status);
    println!("auth URL:        {}", platform.auth_url);
    println!("token URL:       {}", platform.token_url);
    println!("JWKS URL:        {}", platform.jwks_url);
    if let Some(audience) = &platform.token_audience {
        println!("token audience:  {audience}");
    }
    if deployments.is_empty() {
        println!("deployments:     (none)");
    }
    for deployment in deployments {
        println!("deployment:      {} ({})", deployment.deployment_id, deployment.status);
    }
}
