//! Words the generator draws from, so that generated data reads like a real estate.

pub(crate) const COMPANIES: [&str; 24] = [
    "Contoso",
    "Fabrikam",
    "Northwind",
    "Tailspin",
    "Woodgrove",
    "Adatum",
    "Litware",
    "Proseware",
    "Lucerne",
    "Wingtip",
    "Alpine Ski House",
    "Coho Winery",
    "Fourth Coffee",
    "Margie's Travel",
    "Relecloud",
    "Trey Research",
    "VanArsdel",
    "Wide World Importers",
    "Blue Yonder",
    "Consolidated Messenger",
    "Datum",
    "Graphic Design Institute",
    "Humongous Insurance",
    "School of Fine Art",
];

pub(crate) const UNITS: [&str; 20] = [
    "Europe",
    "North America",
    "APAC",
    "Finance",
    "Retail",
    "Logistics",
    "Research",
    "Manufacturing",
    "Legal",
    "HR",
    "Marketing",
    "Field Services",
    "Labs",
    "Health",
    "Education",
    "Government",
    "Hospitality",
    "Energy",
    "Media",
    "Holding",
];

pub(crate) const FIRST_NAMES: [&str; 20] = [
    "Ava", "Ben", "Chloé", "Dmitri", "Elif", "Farah", "Giulia", "Hiro", "Ines", "Jonas", "Kwame",
    "Lena", "Mateo", "Nora", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Yara",
];

pub(crate) const LAST_NAMES: [&str; 20] = [
    "Andersen", "Bauer", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Hansen", "Ito",
    "Jansen", "Kowalski", "Laurent", "Moreau", "Nakamura", "Okafor", "Petrov", "Rossi", "Silva",
    "Tanaka", "Weber",
];

/// Run types and their relative frequency.
pub(crate) const RUN_TYPES: [(&str, u32); 8] = [
    ("inventory.sync", 30),
    ("policy.sync", 20),
    ("compliance.scan", 15),
    ("directory.sync", 12),
    ("backup.snapshot", 10),
    ("license.reconcile", 6),
    ("rbac.setup", 4),
    ("report.export", 3),
];

/// Permissions the platform needs in every tenant.
pub(crate) const PERMISSIONS: [&str; 6] = [
    "DeviceManagementConfiguration.Read.All",
    "DeviceManagementManagedDevices.Read.All",
    "Directory.Read.All",
    "Policy.Read.All",
    "AuditLog.Read.All",
    "Reports.Read.All",
];

/// Failure entries of failed and partly failed runs: (code, reason, message).
pub(crate) const FAILURES: [(&str, &str, &str); 8] = [
    (
        "GRAPH_429",
        "throttled",
        "Microsoft Graph returned 429 Too Many Requests after 5 retries",
    ),
    (
        "GRAPH_403",
        "forbidden",
        "Insufficient privileges to complete the operation on /deviceManagement/managedDevices",
    ),
    (
        "AUTH_TOKEN",
        "token_acquisition",
        "AADSTS700016: application not found in the directory; request used Authorization: Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJncmFwaCJ9.c2lnbmF0dXJl",
    ),
    (
        "TIMEOUT",
        "timeout",
        "The request to the provider timed out after 120 s",
    ),
    (
        "CONFLICT",
        "conflict",
        "Policy 'Baseline - Windows' changed while it was being synchronised",
    ),
    (
        "DB_CONN",
        "storage",
        "could not connect to the staging store (host=stage-7 user=svc password=Winter2026!)",
    ),
    (
        "QUOTA",
        "quota",
        "The tenant's export quota is exhausted until midnight UTC",
    ),
    (
        "SCHEMA",
        "unexpected_response",
        "The provider answered with an unexpected payload shape (missing 'value')",
    ),
];

/// Regions named in tenant metadata.
pub(crate) const REGIONS: [&str; 6] = [
    "westeurope",
    "northeurope",
    "eastus",
    "westus2",
    "southeastasia",
    "uksouth",
];

/// Operators named in generated audit logs.
pub(crate) const OPERATORS: [(&str, &str); 4] = [
    ("Morgan Reyes", "morgan.reyes@ops.example"),
    ("Sasha Lindqvist", "sasha.lindqvist@ops.example"),
    ("Tomás Herrera", "tomas.herrera@ops.example"),
    ("Aiko Mori", "aiko.mori@ops.example"),
];
