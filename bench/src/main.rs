//! `microcred-bench`: plays an LMS and its users against microcred
//! processes it starts itself, over 127.0.0.1, and reports latency per step,
//! throughput, the tool's memory and its CPU time per launch.

mod client;
mod load;
mod platform;
mod procfs;
mod seed;
mod stats;
mod tool;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use reqwest::{Method, StatusCode};
use serde::Serialize;

use crate::client::{Client, Sink};
use crate::load::{Scenario, Shared, PHASE_MEASURE, PHASE_STOP};
use crate::platform::{LaunchUser, Platform, LEARNER};
use crate::stats::{Recorder, Step, StepSummary};
use crate::tool::{ToolConfig, ToolProcess};

#[derive(Parser, Debug)]
#[command(name = "microcred-bench", version, about = "Load generator for microcred: an LMS and its users on 127.0.0.1")]
struct Args {
    /// The microcred binary to start.
    #[arg(long, default_value = "target/release/microcred")]
    tool_bin: PathBuf,
    /// Folder of sample micro-credentials the tool loads into its empty catalogue.
    #[arg(long, default_value = "config/catalogue")]
    catalogue: PathBuf,
    /// The micro-credential the course links show.
    #[arg(long, default_value = "exit-tickets")]
    credential: String,
    /// A PostgreSQL database for the tool (`postgres://USER@127.0.0.1/DB`), empty or
    /// left by an earlier run. Without it, the tool gets a new SQLite file.
    #[arg(long)]
    database_url: Option<String>,
    /// Number of tool processes (1 to 4). More than one needs `--database-url`.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=4))]
    instances: u16,
    /// The work of each simulated user.
    #[arg(long, value_enum, default_value_t = Scenario::Journey)]
    scenario: Scenario,
    /// Simulated users running at once (1 to 512).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=512))]
    concurrency: u32,
    /// Length of the measured window, in seconds (1 to 600).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    duration: u64,
    /// Load before the measured window, not counted, in seconds (0 to 120).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(0..=120))]
    warmup: u64,
    /// Learners the launch scenario draws from (`bench-u-0` ...); defaults to
    /// `--seed-users` when seeding, else 10,000.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    users: Option<u64>,
    /// Users to add to the database before the run (at most 1,000,000).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    seed_users: u64,
    /// Submitted attempts to add before the run (at most 5,000,000), four in
    /// five of them assessed; needs `--seed-users`.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=5_000_000))]
    seed_submissions: u64,
    /// Offer this many complete launches per second in all, spread evenly
    /// over the simulated users, instead of starting each user's next
    /// launch as soon as the last one ends (launch scenario only). A launch
    /// is timed from the moment it was due, so a launch that starts late
    /// because the one before it was slow counts its wait.
    #[arg(long, value_parser = parse_rate)]
    rate: Option<f64>,
    /// Worker threads of the generator's own async runtime (1 to 16). With
    /// one, the generator switches threads least, so it leaves the most of
    /// the shared cores to the tool. One thread signs about 2,500 id_tokens
    /// per second.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    threads: u16,
    /// Log filter of the tool processes (their logs go to the work folder).
    #[arg(long, default_value = "info")]
    tool_log_filter: String,
    /// Write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Keep the work folder (database, uploads, tool logs) and print its path.
    #[arg(long)]
    keep: bool,
}

#[derive(Serialize)]
struct ProcessReport {
    pid: u32,
    rss_idle_mb: f64,
    rss_peak_mb: f64,
    cpu_secs: f64,
}

#[derive(Serialize)]
struct Report {
    scenario: Scenario,
    database: &'static str,
    instances: u16,
    concurrency: u32,
    /// Complete launches offered per second with `--rate`; `None` when each user starts again at once.
    offered_per_second: Option<f64>,
    generator_threads: u16,
    warmup_secs: u64,
    window_secs: f64,
    seed: Option<seed::SeedReport>,
    steps: Vec<StepSummary>,
    complete_launches: u64,
    launches_per_second: f64,
    tool_processes: Vec<ProcessReport>,
    tool_cpu_secs: f64,
    tool_cpu_us_per_launch: f64,
    generator_cpu_secs: f64,
    load_average_before: Option<[f64; 3]>,
    load_average_after: Option<[f64; 3]>,
}

/// A sink for the setup launch, which is not measured.
struct Discard;

impl Sink for Discard {
    fn record(&mut self, _: Step, _: Duration) {}
}

/// Parse `--rate`: launches per second, from 1 to 100,000.
fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text.trim().parse().map_err(|_| format!("{text:?} is not a number of launches per second"))?;
    if !(1.0..=100_000.0).contains(&rate) {
        return Err(format!("{rate} is outside 1 to 100000 launches per second"));
    }
    Ok(rate)
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(usize::from(args.threads)).enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    if args.instances > 1 && args.database_url.is_none() {
        anyhow::bail!("--instances {} needs --database-url postgres://...: SQLite serves one process", args.instances);
    }
    if args.rate.is_some() && args.scenario != Scenario::Launch {
        anyhow::bail!("--rate is valid only with --scenario launch; remove --rate or add --scenario launch");
    }
    if args.seed_submissions > 0 && args.seed_users == 0 {
        anyhow::bail!("--seed-submissions needs --seed-users");
    }
    if let Some(url) = &args.database_url {
        if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
            anyhow::bail!("--database-url must be a postgres:// URL");
        }
    }
    let work = tempfile::Builder::new().prefix("microcred-bench-").tempdir()?;
    let work_dir = work.path().to_path_buf();
    let database_url = match &args.database_url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}?mode=rwc", work_dir.join("microcred.db").display()),
    };
    let storage = work_dir.join("files");
    std::fs::create_dir_all(&storage)?;
    let config = ToolConfig {
        binary: tool::absolute(&args.tool_bin, "tool binary")?,
        database_url: database_url.clone(),
        storage,
        catalogue: tool::absolute(&args.catalogue, "catalogue folder")?,
        log_filter: args.tool_log_filter.clone(),
        work_dir: work_dir.clone(),
    };

    let platform = Arc::new(Platform::start().await?);
    let http = client::http_client(args.concurrency as usize)?;
    config.register(&platform).await?;
    let mut tools: Vec<ToolProcess> = Vec::new();
    for number in 1..=args.instances as usize {
        let process = config.start(number, &http).await?;
        eprintln!("tool {number}: pid {} at {}", process.pid, process.base);
        tools.push(process);
    }
    let result = measure(&args, &config, platform, http, &mut tools).await;
    for process in tools {
        process.stop().await;
    }
    if args.keep {
        eprintln!("work folder kept at {}", work.keep().display());
    }
    result
}

async fn measure(
    args: &Args,
    config: &ToolConfig,
    platform: Arc<Platform>,
    http: reqwest::Client,
    tools: &mut [ToolProcess],
) -> anyhow::Result<()> {
    let client = Client { http, platform: platform.clone() };
    let run_tag = format!("{:x}", rand::random::<u32>());

    // One unmeasured launch reads the micro-credential's components.
    let setup_sub = format!("bench-{run_tag}-setup");
    let setup_course = format!("bench-{run_tag}-setup");
    let setup_user =
        LaunchUser { sub: &setup_sub, name: "Bench Setup", role: LEARNER, course: &setup_course, credential: &args.credential };
    let token = client
        .launch(&mut Discard, &tools[0].base, &setup_user)
        .await
        .map_err(|(step, kind)| anyhow::anyhow!("the setup launch failed at {}: {kind}", step.name().trim()))?;
    let entry_url = format!("{}/api/v1/catalogue/{}", tools[0].base, args.credential);
    let entry = client
        .api(&mut Discard, Step::Queue, client.request(Method::GET, entry_url), &token, &[StatusCode::OK])
        .await
        .map_err(|(_, kind)| anyhow::anyhow!("reading the micro-credential {} failed: {kind}", args.credential))?;
    let credential = client::credential_from(&args.credential, &entry)?;

    let seed_report = if args.seed_users > 0 {
        eprintln!("seeding {} users and {} submissions ...", args.seed_users, args.seed_submissions);
        let report = seed::seed(&config.database_url, platform.issuer(), args.seed_users, args.seed_submissions).await?;
        eprintln!("seeded in {:.1} s", report.seconds);
        Some(report)
    } else {
        None
    };

    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle: Vec<u64> = tools.iter().map(|t| procfs::memory(t.pid).map(|m| m.rss_kb).unwrap_or(0)).collect();
    let load_before = procfs::load_average();

    let shared = Arc::new(Shared {
        client,
        tools: tools.iter().map(|t| t.base.clone()).collect(),
        credential,
        phase: AtomicU8::new(load::PHASE_WARMUP),
        scenario: args.scenario,
        user_pool: args.users.unwrap_or(if args.seed_users > 0 { args.seed_users } else { 10_000 }),
        run_tag,
        pace: args.rate.map(|rate| load::Pace::new(rate, args.concurrency)),
    });

    // Peak resident memory under load, sampled every 100 ms.
    let pids: Vec<u32> = tools.iter().map(|t| t.pid).collect();
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        let pids = pids.clone();
        tokio::spawn(async move {
            let mut peaks = vec![0u64; pids.len()];
            while sampling.load(Ordering::Relaxed) {
                for (peak, pid) in peaks.iter_mut().zip(&pids) {
                    if let Ok(memory) = procfs::memory(*pid) {
                        *peak = (*peak).max(memory.rss_kb);
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            peaks
        })
    };

    eprintln!(
        "{} scenario, {} users at once: {} s warm-up, then {} s measured",
        match args.scenario {
            Scenario::Launch => "launch",
            Scenario::Journey => "journey",
        },
        args.concurrency,
        args.warmup,
        args.duration
    );
    let workers: Vec<_> = (0..args.concurrency as usize).map(|id| tokio::spawn(load::worker(shared.clone(), id))).collect();
    tokio::time::sleep(Duration::from_secs(args.warmup)).await;

    let cpu_before: Vec<Duration> = pids.iter().map(|pid| procfs::cpu_time(*pid).unwrap_or_default()).collect();
    let own_before = procfs::cpu_time(std::process::id()).unwrap_or_default();
    let window_start = Instant::now();
    shared.phase.store(PHASE_MEASURE, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(args.duration)).await;
    shared.phase.store(PHASE_STOP, Ordering::Relaxed);
    let window = window_start.elapsed();
    let cpu_after: Vec<Duration> = pids.iter().map(|pid| procfs::cpu_time(*pid).unwrap_or_default()).collect();
    let own_after = procfs::cpu_time(std::process::id()).unwrap_or_default();
    let load_after = procfs::load_average();

    let mut recorder = Recorder::new();
    for worker in workers {
        match tokio::time::timeout(Duration::from_secs(40), worker).await {
            Ok(Ok(recorded)) => recorder.merge(recorded),
            Ok(Err(error)) => eprintln!("a worker failed: {error}"),
            Err(_) => eprintln!("a worker did not stop within 40 s"),
        }
    }
    sampling.store(false, Ordering::Relaxed);
    let peaks = sampler.await.unwrap_or_default();
    for process in tools.iter_mut() {
        if let Some(status) = process.exited() {
            eprintln!("warning: tool pid {} exited with {status} during the run; see {}", process.pid, process.log_path.display());
        }
    }

    let steps = recorder.summarize(window);
    let launches = recorder.count(Step::CompleteLaunch);
    let processes: Vec<ProcessReport> = pids
        .iter()
        .enumerate()
        .map(|(i, pid)| ProcessReport {
            pid: *pid,
            rss_idle_mb: mb(idle[i]),
            rss_peak_mb: mb(peaks.get(i).copied().unwrap_or(0)),
            cpu_secs: cpu_after[i].saturating_sub(cpu_before[i]).as_secs_f64(),
        })
        .collect();
    let tool_cpu: f64 = processes.iter().map(|p| p.cpu_secs).sum();
    let report = Report {
        scenario: args.scenario,
        database: if args.database_url.is_some() { "postgres" } else { "sqlite" },
        instances: args.instances,
        concurrency: args.concurrency,
        offered_per_second: args.rate,
        generator_threads: args.threads,
        warmup_secs: args.warmup,
        window_secs: window.as_secs_f64(),
        seed: seed_report,
        complete_launches: launches,
        launches_per_second: launches as f64 / window.as_secs_f64(),
        tool_cpu_secs: tool_cpu,
        tool_cpu_us_per_launch: if launches > 0 { tool_cpu * 1e6 / launches as f64 } else { 0.0 },
        generator_cpu_secs: own_after.saturating_sub(own_before).as_secs_f64(),
        tool_processes: processes,
        steps,
        load_average_before: load_before,
        load_average_after: load_after,
    };
    println!("{}", render(&report));
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
        eprintln!("results written to {}", path.display());
    }
    Ok(())
}

fn render(report: &Report) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "scenario {:?}, {} with {} tool process(es), {} users at once, {:.1} s measured after {} s warm-up, generator on {} thread(s)\n",
        report.scenario,
        report.database,
        report.instances,
        report.concurrency,
        report.window_secs,
        report.warmup_secs,
        report.generator_threads
    ));
    if let Some(rate) = report.offered_per_second {
        out.push_str(&format!(
            "launches offered at {rate:.0} per s, spread over the users; a complete launch is timed from when it was due\n"
        ));
    }
    if let Some(seed) = &report.seed {
        out.push_str(&format!(
            "seeded: {} users, {} courses, {} enrolments, {} submissions ({} assessed) in {:.1} s\n",
            seed.users, seed.courses, seed.enrollments, seed.submissions, seed.assessments, seed.seconds
        ));
    }
    out.push('\n');
    out.push_str(&stats::table(&report.steps));
    out.push('\n');
    out.push_str(&format!(
        "complete launches: {} ({:.1} per s)\n",
        report.complete_launches, report.launches_per_second
    ));
    for process in &report.tool_processes {
        out.push_str(&format!(
            "tool pid {}: RSS {:.1} MB idle, {:.1} MB peak under load, {:.2} s CPU in the window\n",
            process.pid, process.rss_idle_mb, process.rss_peak_mb, process.cpu_secs
        ));
    }
    out.push_str(&format!(
        "tool CPU per complete launch: {:.0} µs ({:.2} s CPU / {} launches{})\n",
        report.tool_cpu_us_per_launch,
        report.tool_cpu_secs,
        report.complete_launches,
        if report.scenario == Scenario::Journey { ", participant and assessor steps included" } else { "" }
    ));
    out.push_str(&format!("generator CPU in the window: {:.2} s\n", report.generator_cpu_secs));
    let load = |value: Option<[f64; 3]>| {
        value.map(|[a, b, c]| format!("{a:.2} {b:.2} {c:.2}")).unwrap_or_else(|| "unknown".to_string())
    };
    out.push_str(&format!(
        "load average before: {}, after: {}\n",
        load(report.load_average_before),
        load(report.load_average_after)
    ));
    out
}
