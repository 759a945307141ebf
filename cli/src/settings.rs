//! The settings commands share, resolved in this one place: defaults < the settings file <
//! the environment (`IOLLM_*`) < flags. The libraries read none of them: each is handed what
//! it needs.
//!
//! The settings file is TOML (`--settings FILE`, else `IOLLM_SETTINGS`, else
//! `~/.config/iollm/settings.toml` when it exists) with the keys of [`Settings`]:
//!
//! ```toml
//! rpc = "ws://127.0.0.1:9944"
//! deployments = "/home/me/iollm/deployments/devnet.json"
//! key_file = "/home/me/.iollm/charlie.key"
//! ipfs_api = "http://127.0.0.1:5001"
//! threads = 8
//! device = "cuda:0"
//! root = "/home/me/iollm"
//! state_dir = "/tmp/my-devnet"
//! home = "/home/me/.local/share/iollm"
//! ```

use figment::providers::{Env, Format as _, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The environment variable naming the settings file.
pub const SETTINGS_ENV: &str = "IOLLM_SETTINGS";

/// Settings every command may use; each `None` means "not set anywhere".
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Node RPC URL (`IOLLM_RPC`, `--rpc`; default: the deployment file's node).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpc: Option<String>,
    /// Deployment file (`IOLLM_DEPLOYMENTS`, `--deployments`; default: the checkout's
    /// `deployments/devnet.json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployments: Option<PathBuf>,
    /// The signer's secret URI (`IOLLM_SURI` or the file; never a flag, which other users of
    /// the machine could read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suri: Option<String>,
    /// A file holding the signer's secret URI (`IOLLM_KEY_FILE`, `--key-file`); wins over `suri`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// The IPFS HTTP API (`IOLLM_IPFS_API`; default: the devnet's daemon, else Kubo's
    /// `http://127.0.0.1:5001`). Given to `devnet up`, it is used instead of starting one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipfs_api: Option<String>,
    /// Compute threads (`IOLLM_THREADS`, a command's `--threads`; default: every core).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// Where the model matmuls run: `cpu`, `cuda` or `cuda:N` (`IOLLM_DEVICE`, `--device`;
    /// default: cpu). Never changes a result's bits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<iollm_compute::Backend>,
    /// The iollm checkout `devnet` commands use (`IOLLM_ROOT`; default: the one around the
    /// current directory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root: Option<PathBuf>,
    /// Where the devnet keeps its deployment file and state (`IOLLM_STATE_DIR`; default: the
    /// checkout).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_dir: Option<PathBuf>,
    /// The tools directory setup installs into (`IOLLM_HOME`, as `scripts/setup.sh` reads it;
    /// default `~/.local/share/iollm`): the node and cargo-contract are in its `bin/`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub home: Option<PathBuf>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("rpc", &self.rpc)
            .field("deployments", &self.deployments)
            .field("suri", &self.suri.as_ref().map(|_| "(secret)"))
            .field("key_file", &self.key_file)
            .field("ipfs_api", &self.ipfs_api)
            .field("threads", &self.threads)
            .field("device", &self.device)
            .field("root", &self.root)
            .field("state_dir", &self.state_dir)
            .field("home", &self.home)
            .finish()
    }
}

/// The environment keys the resolver reads (`IOLLM_` and the key in capitals); other `IOLLM_*`
/// variables belong to scripts and tests.
const ENV_KEYS: [&str; 10] = [
    "rpc",
    "deployments",
    "suri",
    "key_file",
    "ipfs_api",
    "threads",
    "device",
    "root",
    "state_dir",
    "home",
];

/// A crash test's hook, not a setting: `iollm worker run` with
/// `IOLLM_TEST_ABORT_BEFORE_RECORDING=claim` (or any kind of transaction the worker records)
/// aborts its process once such a transaction has landed, before it is recorded
/// (`iollm_worker::state::State::abort_before_recording`).
pub const ABORT_BEFORE_RECORDING_ENV: &str = "IOLLM_TEST_ABORT_BEFORE_RECORDING";

/// Why settings could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A settings file named by flag or environment does not exist.
    #[error("settings file {0} does not exist; create it or stop naming it")]
    Missing(PathBuf),
    /// A value has the wrong type, or a key is unknown.
    #[error("settings: {0}")]
    Invalid(String),
}

impl Settings {
    /// Resolves the settings: defaults < `file` (or `IOLLM_SETTINGS`, or the default file when
    /// it exists) < `env` < `flags` (the command line's values, `None` where not given).
    pub fn resolve(
        file: Option<&Path>,
        env: Env,
        flags: &Settings,
    ) -> Result<Settings, SettingsError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = settings_file(file, &env)? {
            figment = figment.merge(Toml::file_exact(file));
        }
        let env = env.only(&ENV_KEYS);
        let figment = figment.merge(env).merge(Serialized::defaults(flags));
        let mut settings: Settings =
            figment.extract().map_err(|e| SettingsError::Invalid(one_line(e)))?;
        // An empty variable (`IOLLM_SURI=`) is as good as unset.
        for text in [&mut settings.rpc, &mut settings.suri, &mut settings.ipfs_api] {
            if text.as_deref().is_some_and(|t| t.trim().is_empty()) {
                *text = None;
            }
        }
        Ok(settings)
    }

    /// The process's environment as the resolver reads it.
    pub fn process_env() -> Env {
        Env::prefixed("IOLLM_")
    }

    /// The thread count: a command's own flag over these settings.
    pub fn threads_or(&self, flag: Option<usize>) -> Option<usize> {
        flag.or(self.threads)
    }

    /// How compute runs: the thread count (a command's own flag over these settings, else
    /// every core) on the device these settings name (else the CPU).
    pub fn runtime(&self, threads: Option<usize>) -> iollm_compute::Result<iollm_compute::Runtime> {
        let threads = iollm_compute::train::resolve_threads(self.threads_or(threads))?;
        Ok(iollm_compute::Runtime::on(threads, self.device.unwrap_or_default()))
    }

    /// The devnet's paths: the checkout these settings name (else the one around `cwd`), its
    /// state directory and the tools directory's `bin/`.
    pub fn devnet_paths(
        &self,
        cwd: &Path,
    ) -> Result<iollm_devnet::Paths, iollm_devnet::DevnetError> {
        let root = match &self.root {
            Some(root) => root.clone(),
            None => iollm_devnet::find_checkout(cwd)?,
        };
        let home = self.home.clone().or_else(|| {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share/iollm"))
        });
        let tools = home.unwrap_or_default().join("bin");
        Ok(iollm_devnet::Paths {
            state: self.state_dir.clone().unwrap_or_else(|| root.clone()),
            root,
            tools,
        })
    }
}

/// The settings file to read: named (it must exist), else the default one if it exists.
fn settings_file(named: Option<&Path>, env: &Env) -> Result<Option<PathBuf>, SettingsError> {
    let from_env = env.iter().find(|(key, _)| key == "settings").map(|(_, v)| v);
    if let Some(file) = named.map(Path::to_path_buf).or(from_env.map(PathBuf::from)) {
        return if file.is_file() { Ok(Some(file)) } else { Err(SettingsError::Missing(file)) };
    }
    let config_home = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")));
    Ok(config_home.map(|dir| dir.join("iollm/settings.toml")).filter(|file| file.is_file()))
}

fn one_line(error: figment::Error) -> String {
    error.into_iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
// `figment::Jail`'s closures return figment's own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_environment_which_beats_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "s.toml",
                "rpc = \"ws://file\"\nipfs_api = \"http://file\"\nthreads = 3\nkey_file = \"k\"",
            )?;
            jail.set_env("IOLLM_IPFS_API", "http://env");
            jail.set_env("IOLLM_THREADS", "5");
            jail.set_env("IOLLM_BLESS", "1"); // not a setting: ignored
            let flags = Settings { threads: Some(7), ..Settings::default() };
            let s = Settings::resolve(Some(Path::new("s.toml")), Settings::process_env(), &flags)
                .expect("resolves");
            assert_eq!(s.rpc.as_deref(), Some("ws://file"));
            assert_eq!(s.ipfs_api.as_deref(), Some("http://env"));
            assert_eq!(s.threads, Some(7));
            assert_eq!(s.key_file.as_deref(), Some(Path::new("k")));
            assert_eq!(s.threads_or(Some(2)), Some(2));
            Ok(())
        });
    }

    #[test]
    fn the_device_resolves_like_every_setting_and_a_bad_one_is_one_line() {
        use iollm_compute::Backend;
        figment::Jail::expect_with(|jail| {
            jail.create_file("s.toml", "device = \"cuda:1\"")?;
            let resolve = |flags: &Settings| {
                Settings::resolve(Some(Path::new("s.toml")), Settings::process_env(), flags)
            };
            let s = resolve(&Settings::default()).expect("resolves");
            assert_eq!(s.device, Some(Backend::Cuda { device: 1 }));
            jail.set_env("IOLLM_DEVICE", "cpu");
            assert_eq!(resolve(&Settings::default()).unwrap().device, Some(Backend::Cpu));
            let flags =
                Settings { device: Some(Backend::Cuda { device: 2 }), ..Settings::default() };
            let s = resolve(&flags).unwrap();
            let runtime = s.runtime(Some(3)).unwrap();
            assert_eq!((runtime.threads, runtime.backend), (3, Backend::Cuda { device: 2 }));
            jail.set_env("IOLLM_DEVICE", "gpu");
            let err = resolve(&Settings::default()).unwrap_err().to_string();
            assert!(err.contains("write cpu, cuda or cuda:N"), "{err}");
            assert!(!err.contains('\n'), "{err}");
            Ok(())
        });
    }

    #[test]
    fn the_devnet_paths_come_from_the_settings_over_the_checkout_around() {
        figment::Jail::expect_with(|jail| {
            let resolve = || {
                Settings::resolve(None, Settings::process_env(), &Settings::default())
                    .expect("resolves")
            };
            let checkout = jail.directory().join("checkout");
            std::fs::create_dir_all(checkout.join("contracts/sub")).expect("mkdir");
            jail.create_file("checkout/Cargo.toml", "")?;
            jail.create_file("checkout/contracts/Cargo.toml", "")?;
            jail.set_env("IOLLM_HOME", "/opt/iollm");
            let paths = resolve().devnet_paths(&checkout.join("contracts/sub")).expect("found");
            assert_eq!((&paths.root, &paths.state), (&checkout, &checkout));
            assert_eq!(paths.tools, Path::new("/opt/iollm/bin"));
            jail.set_env("IOLLM_STATE_DIR", "/tmp/state");
            jail.set_env("IOLLM_ROOT", "/elsewhere");
            let paths = resolve().devnet_paths(&checkout).expect("named");
            assert_eq!(
                (paths.root.as_path(), paths.state.as_path()),
                (Path::new("/elsewhere"), Path::new("/tmp/state"))
            );
            jail.clear_env();
            let err = resolve().devnet_paths(Path::new("/")).unwrap_err().to_string();
            assert!(err.contains("not inside an iollm checkout"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn bad_settings_are_one_clear_line() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("typo.toml", "ipfs_apy = \"http://x\"")?;
            let err = Settings::resolve(
                Some(Path::new("typo.toml")),
                Settings::process_env(),
                &Settings::default(),
            )
            .unwrap_err();
            assert!(err.to_string().contains("ipfs_apy"), "{err}");
            jail.create_file("type.toml", "threads = \"many\"")?;
            let err = Settings::resolve(
                Some(Path::new("type.toml")),
                Settings::process_env(),
                &Settings::default(),
            )
            .unwrap_err();
            assert!(err.to_string().contains("threads"), "{err}");
            assert!(!err.to_string().contains('\n'), "{err}");
            let err = Settings::resolve(
                Some(Path::new("absent.toml")),
                Settings::process_env(),
                &Settings::default(),
            )
            .unwrap_err();
            assert!(matches!(err, SettingsError::Missing(_)), "{err}");
            jail.set_env("IOLLM_SURI", "");
            let s = Settings::resolve(None, Settings::process_env(), &Settings::default())
                .expect("resolves");
            assert_eq!(s.suri, None, "an empty variable is unset");
            jail.set_env("IOLLM_SURI", "//Alice");
            let s = Settings::resolve(None, Settings::process_env(), &Settings::default())
                .expect("resolves");
            assert_eq!(s.suri.as_deref(), Some("//Alice"));
            assert!(!format!("{s:?}").contains("Alice"), "the secret is never printed");
            Ok(())
        });
    }
}
