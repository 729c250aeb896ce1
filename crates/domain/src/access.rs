//! Who may do what (SPEC AUTH-4): roles of members, scopes of API keys, and the permissions
//! each grants. Handlers ask `Role::grants` / `ApiKeyScope::grants` for the one permission
//! they declare; nothing else decides access.

use serde::{Deserialize, Serialize};

/// A member's role in an organization, from most to least powerful.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Analyst,
    Viewer,
}

/// One thing an endpoint or server function may require.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Read the organization's data, insights and reports.
    ReadData,
    /// Send data in: REST, CSV uploads, webhooks.
    Ingest,
    /// Start analyses, recomputations and reports.
    RunAnalyses,
    /// Invite people and change or remove members who are not owners.
    ManageMembers,
    /// Make, demote or remove owners.
    ManageOwners,
    /// Create and revoke API keys.
    ManageApiKeys,
    /// Change organization settings, quotas and integrations.
    ManageSettings,
    /// Read and export the audit log.
    ReadAuditLog,
}

impl Permission {
    pub const ALL: [Permission; 8] = [
        Permission::ReadData,
        Permission::Ingest,
        Permission::RunAnalyses,
        Permission::ManageMembers,
        Permission::ManageOwners,
        Permission::ManageApiKeys,
        Permission::ManageSettings,
        Permission::ReadAuditLog,
    ];
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Analyst, Role::Viewer];

    /// owner: everything; admin: everything but owners; analyst: read, ingest, analyse;
    /// viewer: read.
    pub fn grants(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Owner => true,
            Role::Admin => permission != ManageOwners,
            Role::Analyst => matches!(permission, ReadData | Ingest | RunAnalyses),
            Role::Viewer => permission == ReadData,
        }
    }

    /// Every permission of this role, for `/me` and the UI.
    pub fn permissions(self) -> Vec<Permission> {
        Permission::ALL.into_iter().filter(|p| self.grants(*p)).collect()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Role::ALL.into_iter().find(|r| r.as_str() == value)
    }
}

/// What an API key may be used for. A key acts for its organization, never as a person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyScope {
    /// Send data in.
    Ingest,
    /// Read data and insights.
    Read,
    /// Everything an admin may do, for automation.
    Admin,
}

impl ApiKeyScope {
    pub fn grants(self, permission: Permission) -> bool {
        match self {
            ApiKeyScope::Ingest => permission == Permission::Ingest,
            ApiKeyScope::Read => permission == Permission::ReadData,
            ApiKeyScope::Admin => Role::Admin.grants(permission),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ApiKeyScope::Ingest => "ingest",
            ApiKeyScope::Read => "read",
            ApiKeyScope::Admin => "admin",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [ApiKeyScope::Ingest, ApiKeyScope::Read, ApiKeyScope::Admin]
            .into_iter()
            .find(|s| s.as_str() == value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission::*;

    /// The role table of the identity issue, row by row.
    #[test]
    fn each_role_grants_exactly_its_documented_permissions() {
        let expected: [(Role, &[Permission]); 4] = [
            (Role::Owner, &Permission::ALL),
            (
                Role::Admin,
                &[
                    ReadData,
                    Ingest,
                    RunAnalyses,
                    ManageMembers,
                    ManageApiKeys,
                    ManageSettings,
                    ReadAuditLog,
                ],
            ),
            (Role::Analyst, &[ReadData, Ingest, RunAnalyses]),
            (Role::Viewer, &[ReadData]),
        ];
        for (role, permissions) in expected {
            assert_eq!(role.permissions(), permissions.to_vec(), "{role:?}");
        }
    }

    #[test]
    fn a_more_powerful_role_grants_everything_a_weaker_one_does() {
        for pair in Role::ALL.windows(2) {
            let (stronger, weaker) = (pair[0], pair[1]);
            for permission in Permission::ALL {
                assert!(
                    !weaker.grants(permission) || stronger.grants(permission),
                    "{stronger:?} vs {weaker:?}"
                );
            }
        }
    }

    #[test]
    fn a_viewer_cannot_create_api_keys_and_an_ingest_key_cannot_read() {
        assert!(!Role::Viewer.grants(ManageApiKeys));
        assert!(!ApiKeyScope::Ingest.grants(ReadData));
        assert!(ApiKeyScope::Ingest.grants(Ingest));
        assert!(!ApiKeyScope::Admin.grants(ManageOwners));
    }

    #[test]
    fn roles_and_scopes_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        for scope in [ApiKeyScope::Ingest, ApiKeyScope::Read, ApiKeyScope::Admin] {
            assert_eq!(ApiKeyScope::parse(scope.as_str()), Some(scope));
        }
        assert_eq!(Role::parse("superuser"), None);
    }
}
