//! Writes one YAML file per CRD into `helm/mesh/crds/` (or the directory given as the only
//! argument). Run from anywhere: `cargo run -p mesh-crds --bin gen-crds`.

use std::path::PathBuf;

use anyhow::Context;

fn main() -> anyhow::Result<()> {
    let out_dir = match std::env::args_os().nth(1) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../helm/mesh/crds"),
    };
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    for crd in mesh_crds::all_crds() {
        let path = out_dir.join(mesh_crds::crd_file_name(&crd));
        let yaml = mesh_crds::crd_yaml(&crd)?;
        std::fs::write(&path, yaml).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
