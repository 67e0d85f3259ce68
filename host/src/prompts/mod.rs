//! Prompts ("locuciones", SPEC.md §5): the audio a company plays to callers — greetings,
//! announcements, music on hold — uploaded in any common format and converted once to
//! telephony audio, plus the system defaults that ship with the product.
//! (Skeleton: uploads and the default set land with the prompts work.)

use std::path::PathBuf;

use crate::media::audio::Audio;

/// The prompts of every company; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Prompts {
    /// Where converted uploads live; `None` keeps only the system defaults (tests).
    dir: Option<PathBuf>,
}

impl Prompts {
    pub fn new(dir: Option<PathBuf>) -> Prompts {
        Prompts { dir }
    }

    /// The prompt `name` of `company`: its upload, else the system default of that name.
    pub fn get(&self, company: &str, name: &str) -> Option<Audio> {
        let _ = (company, name, &self.dir);
        None
    }
}
