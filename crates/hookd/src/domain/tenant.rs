//! Tenancy: every object belongs to one workspace and one mode (live or test).
//!
//! A [`Tenant`] is only ever built from an authenticated API key (or by the CLI for the
//! workspace it names), and every store method that touches tenant data takes one, so no query
//! can forget the scope.

use serde::{Deserialize, Serialize};

use super::ids::WorkspaceId;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Live,
    Test,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Live => "live",
            Mode::Test => "test",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "live" => Some(Mode::Live),
            "test" => Some(Mode::Test),
            _ => None,
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The scope of every tenant query: one workspace, one mode.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tenant {
    pub workspace_id: WorkspaceId,
    pub mode: Mode,
}
