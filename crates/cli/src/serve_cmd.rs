//! `optrom serve`: map flags and the config file onto `optrom_netboot`'s
//! [`ServeConfig`], set up logging and signals, and run the server.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use optrom_netboot::dhcp::{DhcpConfig, DhcpService};
use optrom_netboot::policy::wiring::{PolicyService, load_policy, server_urls};
use optrom_netboot::status::BootTracker;
use optrom_netboot::{AddressPool, ChainScript, DhcpMode, ScriptProvider, ServeConfig, Server};

use crate::output::outln;
use crate::{EXIT_FINDINGS, EXIT_OK, EXIT_UNUSABLE};

/// Flags of `optrom serve`; each overrides the config file's value.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// TOML configuration file (docs/serve.md); flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Directory served over TFTP and HTTP [default: /usr/lib/ipxe].
    #[arg(long)]
    root: Option<PathBuf>,
    /// Bind every socket to this interface; TFTP blocks are clamped to its MTU.
    #[arg(long)]
    interface: Option<String>,
    /// Address to listen on [default: 0.0.0.0].
    #[arg(long)]
    address: Option<IpAddr>,
    /// DHCP mode: off, proxy or full [default: proxy].
    #[arg(long)]
    dhcp: Option<DhcpMode>,
    /// Address pool for --dhcp full: START-END.
    #[arg(long)]
    pool: Option<AddressPool>,
    /// TFTP port [default: 69; 0 picks a free one].
    #[arg(long)]
    tftp_port: Option<u16>,
    /// HTTP port [default: 80; 0 picks a free one].
    #[arg(long)]
    http_port: Option<u16>,
    /// Directory for durable state (leases) [default: /var/lib/optrom].
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// What the default iPXE script /_/boot.ipxe chains to (a path under the root or a URL).
    #[arg(long)]
    boot_file: Option<String>,
    /// Log as JSON lines instead of text.
    #[arg(long)]
    log_json: bool,
    #[command(flatten)]
    policy: crate::serve_policy::PolicyArgs,
}

impl ServeArgs {
    fn config(&self) -> Result<ServeConfig, String> {
        let mut config = match &self.config {
            // A boot configuration (menus, items, rules) is the policy's, not the server's.
            Some(path) if optrom_netboot::policy::is_boot_config(path) => ServeConfig::default(),
            Some(path) => ServeConfig::from_file(path).map_err(|e| e.to_string())?,
            None => ServeConfig::default(),
        };
        if let Some(v) = &self.root {
            config.root = v.clone();
        }
        if let Some(v) = &self.interface {
            config.interface = Some(v.clone());
        }
        if let Some(v) = self.address {
            config.address = Some(v);
        }
        if let Some(v) = self.dhcp {
            config.dhcp = v;
        }
        if let Some(v) = self.pool {
            config.pool = Some(v);
        }
        if let Some(v) = self.tftp_port {
            config.tftp.port = v;
        }
        if let Some(v) = self.http_port {
            config.http.port = v;
        }
        if let Some(v) = &self.state_dir {
            config.state_dir = v.clone();
        }
        if let Some(v) = &self.boot_file {
            config.http.boot_file = Some(v.clone());
        }
        Ok(config)
    }
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGTERM; only Ctrl-C stops the server");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!(signal = "SIGINT", "signal received"),
        _ = term.recv() => tracing::info!(signal = "SIGTERM", "signal received"),
    }
}

/// Run `optrom serve`.
pub fn run(args: ServeArgs) -> u8 {
    let config = match args.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("optrom serve: {e}");
            return EXIT_UNUSABLE;
        }
    };
    let policy = match load_policy(&args.policy.source(args.config.as_deref(), &config.state_dir)) {
        Ok(p) => p.map(Arc::new),
        Err(e) => {
            eprintln!("optrom serve: {e}");
            return EXIT_UNUSABLE;
        }
    };
    if let Some(code) = args.policy.inspect(policy.as_deref(), &config) {
        return code;
    }
    // The DHCP settings are checked before anything is bound or logged.
    let mut dhcp_config = match config.dhcp {
        DhcpMode::Off => None,
        _ => match DhcpConfig::from_serve(&config, config.http.port) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("optrom serve: {e}");
                return EXIT_UNUSABLE;
            }
        },
    };
    init_logging(args.log_json);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("optrom serve: cannot start the runtime: {e}");
            return EXIT_UNUSABLE;
        }
    };
    runtime.block_on(async {
        let policy_service = policy.map(|p| {
            let urls = server_urls(&config, config.http.port, None);
            Arc::new(PolicyService::new(p, urls, Arc::new(BootTracker::new())))
        });
        let scripts: Arc<dyn ScriptProvider> = match &policy_service {
            Some(p) => p.clone(),
            None => Arc::new(ChainScript { boot_file: config.http.boot_file.clone() }),
        };
        let mut server = match Server::bind(&config, scripts).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("optrom serve: {e}");
                return EXIT_UNUSABLE;
            }
        };
        if let Some(p) = &policy_service {
            // The status page shows what DHCP and TFTP report to the server's tracker.
            p.set_tracker(server.context().tracker.clone());
        }
        if let (Some(p), Some((_, a))) = (&policy_service, server.local_addrs().into_iter().find(|(n, _)| *n == "http"))
        {
            p.set_urls(server_urls(&config, a.port(), None));
        }
        if let Some(dhcp) = dhcp_config.as_mut() {
            // Boot URLs name the port HTTP really listens on (also when it was 0).
            if let Some((_, a)) = server.local_addrs().into_iter().find(|(n, _)| *n == "http") {
                dhcp.http_port = a.port();
            }
            if let Some(p) = &policy_service {
                dhcp.policy = Some(p.clone());
            }
            match DhcpService::bind(dhcp.clone(), Arc::default()) {
                Ok(service) => {
                    if let Some(p) = &policy_service {
                        p.set_urls(server_urls(&config, dhcp.http_port, Some(service.server_address())));
                    }
                    server.add(Box::new(service))
                }
                Err(e) => {
                    eprintln!("optrom serve: {e}");
                    return EXIT_UNUSABLE;
                }
            }
        }
        // One line per service on stdout, for scripts that start the server on port 0.
        for (name, address) in server.local_addrs() {
            outln!("{name} {address}");
        }
        match server.run(shutdown_signal()).await {
            Ok(()) => EXIT_OK,
            Err(e) => {
                eprintln!("optrom serve: {e}");
                EXIT_FINDINGS
            }
        }
    })
}
