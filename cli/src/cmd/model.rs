//! `iollm model …`: publish, register, pull, import, serve and inspect artifacts (the
//! registry through `iollm-chain`, packages through `iollm-artifacts`, serving through
//! `iollm-serve`).

use crate::args::{Cli, ModelAction};
use crate::output::Report;
use crate::{content, context, model};

/// `iollm model …`.
pub(super) async fn run(cli: &Cli, action: &ModelAction) -> anyhow::Result<Report> {
    Ok(match action {
        ModelAction::Register { cid, kind, parents, split, from_job, dry_run } => {
            let kind = model::parse_kind(kind)?;
            let parents =
                parents.iter().map(|p| model::parse_parent(p)).collect::<Result<Vec<_>, _>>()?;
            let rule = model::parse_split(split)?;
            let ctx = context::connect(cli).await?;
            let signer = context::signer(cli)?;
            // The lineage registered is the one the package's manifest states, or nothing.
            let store = iollm_artifacts::ipfs_client(&ctx)?;
            let lineage = iollm_artifacts::Lineage { parents, job: *from_job };
            if *dry_run {
                iollm_artifacts::check_stated(&store, kind, cid, &lineage).await?;
                let cost = ctx
                    .registry()?
                    .register_dry_run(&signer.account(), kind, cid, &lineage.parents, rule)
                    .await?;
                let mut report = Report::default();
                report
                    .kv("ref_time", "ref_time", cost.gas_required.0)
                    .kv("proof_size", "proof_size", cost.gas_required.1)
                    .kv(
                        "storage deposit",
                        "storage_deposit",
                        format!("{:?}", cost.storage_deposit),
                    );
                return Ok(report);
            }
            let registration =
                iollm_artifacts::register_package(&ctx, &store, &signer, kind, cid, &lineage, rule)
                    .await?;
            Report::value("id", registration.id)
        }
        ModelAction::NewVersion { id, cid } => {
            let ctx = context::connect(cli).await?;
            let store = iollm_artifacts::ipfs_client(&ctx)?;
            let signer = context::signer(cli)?;
            Report::value(
                "id",
                iollm_artifacts::new_version(&ctx, &store, &signer, *id, cid).await?.id,
            )
        }
        ModelAction::Transfer { id, to } => {
            let to_bytes = model::parse_account(to)?;
            let ctx = context::connect(cli).await?;
            let call = ctx.registry()?.transfer(&context::signer(cli)?, *id, to_bytes).await?;
            Report::sent(&format!("Artifact {id} now belongs to {to}"), &call)
        }
        ModelAction::Deprecate { id } => {
            let ctx = context::connect(cli).await?;
            let call = ctx.registry()?.deprecate(&context::signer(cli)?, *id).await?;
            Report::sent(&format!("Artifact {id} deprecated"), &call)
        }
        ModelAction::Show { id } => {
            let ctx = context::connect(cli).await?;
            let artifact = model::show(&ctx, *id).await?;
            let owner = iollm_chain::AccountId::from(artifact.owner);
            let mut report = Report::default();
            report
                .kv("id", "id", id)
                .kv("kind", "kind", artifact.kind.name())
                .kv("owner", "owner", owner.to_string())
                .kv("manifest CID", "manifest_cid", String::from_utf8_lossy(&artifact.manifest_cid))
                .line(format!("registered:   block {}", artifact.registered_at))
                .set("registered_at", artifact.registered_at)
                .kv("version", "version", artifact.version);
            if let Some(previous) = artifact.previous {
                report.kv("previous", "previous", previous);
            }
            for parent in &artifact.parents {
                report.line(format!("parent:       {} ({:?})", parent.id, parent.relation));
            }
            let parents: Vec<_> = artifact
                .parents
                .iter()
                .map(|p| serde_json::json!({ "id": p.id, "relation": format!("{:?}", p.relation) }))
                .collect();
            report.set("parents", parents);
            if let Some(job) = artifact.job {
                report.line(format!("from job:     {job} (verified output)"));
            }
            let r = artifact.split_rule;
            report
                .set("job", artifact.job)
                .line(format!(
                    "split (bps):  designer {} compute {} upstream {} treasury {}",
                    r.designer_bps, r.compute_bps, r.upstream_bps, r.treasury_bps
                ))
                .set(
                    "split_bps",
                    serde_json::json!({
                        "designer": r.designer_bps,
                        "compute": r.compute_bps,
                        "upstream": r.upstream_bps,
                        "treasury": r.treasury_bps,
                    }),
                )
                .kv("deprecated", "deprecated", artifact.deprecated);
            report
        }
        ModelAction::Publish { dir, kind, no_register } => {
            let kind = model::parse_kind(kind)?;
            let ctx = context::connect(cli).await?;
            if *no_register {
                // A job's output: in the leaves a proof of its weights to the market needs.
                let store = iollm_artifacts::ipfs_client(&ctx)?;
                let added = iollm_artifacts::add_kind(&store, kind, dir).await?;
                let (package_cid, manifest_cid) = (added.package_cid, added.manifest_cid);
                let mut report = Report::default();
                report
                    .kv("package CID", "package_cid", iollm_content::format_cid(&package_cid))
                    .kv("manifest CID", "manifest_cid", iollm_content::format_cid(&manifest_cid));
                return Ok(report);
            }
            let signer = context::signer(cli)?;
            let store = iollm_artifacts::ipfs_client(&ctx)?;
            let rule = iollm_types::split::SplitRule::DESIGNER_ONLY;
            let published =
                iollm_artifacts::publish(&ctx, &store, &signer, kind, dir, rule).await?;
            let mut report = Report::default();
            report
                .kv("package CID", "package_cid", iollm_content::format_cid(&published.package_cid))
                .kv(
                    "manifest CID",
                    "manifest_cid",
                    iollm_content::format_cid(&published.manifest_cid),
                )
                .kv("lineage", "lineage", published.lineage.to_string())
                .kv("id", "id", published.id);
            report
        }
        ModelAction::Import { gguf, out, name, license } => {
            let manifest = content::import_gguf(gguf, out, name.as_deref(), license.as_deref())?;
            let mut report = Report::default();
            report
                .line(format!(
                    "imported {} ({}, {} parameters) into {}: {} files",
                    manifest.name,
                    manifest.format.architecture,
                    manifest.format.parameters.unwrap_or(0),
                    out.display(),
                    manifest.files.len(),
                ))
                .set("name", &manifest.name)
                .set("architecture", &manifest.format.architecture)
                .set("parameters", manifest.format.parameters)
                .set("dir", out)
                .set("files", manifest.files.len())
                .note(format!("publish with `iollm model publish {}`", out.display()));
            report
        }
        ModelAction::Serve { model, listen, name, max_batch, max_queue, threads, max_size } => {
            let runtime = cli.resolved.runtime(*threads)?;
            let (threads, backend) = (runtime.threads, runtime.backend);
            let (path, default_name) = match model.parse::<u64>() {
                Ok(id) if !std::path::Path::new(model).exists() => {
                    (pull_cached(cli, id, *max_size).await?, id.to_string())
                }
                _ => (std::path::PathBuf::from(model), String::new()),
            };
            let name = name.clone().or((!default_name.is_empty()).then_some(default_name));
            let json = cli.json;
            let options = iollm_serve::Options {
                name,
                threads,
                backend,
                max_batch: *max_batch,
                max_queue: *max_queue,
            };
            let served =
                tokio::task::spawn_blocking(move || iollm_serve::load(&path, &options)).await??;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
            let url = format!("http://{}/v1", listener.local_addr()?);
            let mut serving = Report::default();
            serving
                .line(format!(
                    "serving {} on {url} ({threads} threads on {backend}, batches of up to {max_batch})",
                    served.name
                ))
                .set("model", &served.name)
                .set("url", url)
                .set("threads", threads)
                .set("backend", backend.to_string());
            serving.print(json);
            let shutdown = super::cancelled_on_signal();
            iollm_serve::serve(listener, served, async move { shutdown.cancelled().await }).await?;
            let mut stopped = Report::default();
            stopped.line("server stopped.").set("stopped", true);
            stopped
        }
        ModelAction::Pull { id, dir, max_size } => {
            let ctx = context::connect(cli).await?;
            let store = iollm_artifacts::ipfs_client(&ctx)?;
            let limit = iollm_content::PullOptions { max_bytes: *max_size };
            let (cid, files) = iollm_artifacts::pull(&ctx, &store, *id, dir, &limit).await?;
            let cid = iollm_content::format_cid(&cid);
            let mut report = Report::default();
            report
                .line(format!(
                    "pulled {cid} into {} ({} files, verified)",
                    dir.display(),
                    files.len()
                ))
                .set("cid", cid)
                .set("dir", dir)
                .set("files", files.len())
                .set("verified", true);
            report
        }
    })
}

/// Artifact `id` pulled (every byte verified) into the user's cache, once per manifest CID.
async fn pull_cached(cli: &Cli, id: u64, max_size: u64) -> anyhow::Result<std::path::PathBuf> {
    let ctx = context::connect(cli).await?;
    let store = iollm_artifacts::ipfs_client(&ctx)?;
    let artifact = model::show(&ctx, id).await?;
    // The recorded CID is anyone's bytes: parsed before it names a directory.
    let recorded = String::from_utf8_lossy(&artifact.manifest_cid).into_owned();
    let cid = iollm_content::parse_cid(&recorded)
        .map_err(|e| anyhow::anyhow!("artifact {id} records a bad manifest CID: {e}"))?;
    let cid = iollm_content::format_cid(&cid);
    let home = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache")))
        .ok_or_else(|| anyhow::anyhow!("no cache directory: set HOME or XDG_CACHE_HOME"))?;
    let dir = home.join("iollm/artifacts").join(format!("{id}-{cid}"));
    if dir.join("smip.json").is_file() {
        return Ok(dir);
    }
    // The pull stages beside `dir` under a lock and renames: an entry is whole or absent.
    let limit = iollm_content::PullOptions { max_bytes: max_size };
    iollm_artifacts::pull(&ctx, &store, id, &dir, &limit).await?;
    let mut pulled = Report::default();
    pulled
        .line(format!("pulled artifact {id} ({cid}) into {}, verified", dir.display()))
        .set("pulled", serde_json::json!({ "artifact": id, "cid": cid, "dir": dir }));
    pulled.print(cli.json);
    Ok(dir)
}
