//! The documented tag taxonomy (industries, products, services, solution categories).
//!
//! These are the 2019-2020 values of the Partner Center referral resources page, spelled
//! exactly as the API expects them (industries contain spaces and ampersands; one product id
//! contains commas). The current docs do not publish newer lists, so these are the only values
//! the validator can vouch for.

/// `details.requirements.industries[].id`.
pub(super) static INDUSTRIES: &[&str] = &[
    "Agriculture, Forestry, & Fishing",
    "Communications & Media",
    "Education",
    "Financial Services",
    "Government",
    "Healthcare",
    "Hospitality",
    "Manufacturing",
    "Power & Utilities",
    "Public Safety and National Security",
    "Retail & Consumer Goods",
    "Services",
    "Travel & Transportation",
    "Wholesale & Distribution",
];

/// `details.requirements.products[].id`.
pub(super) static PRODUCTS: &[&str] = &[
    "Azure",
    "EnterpriseMobilityAndSecurity",
    "Exchange",
    "DeveloperTools",
    "Dynamics365Business",
    "Dynamics365Enterprise",
    "DynamicsAX,GP,NAV,SL",
    "Microsoft365",
    "Office",
    "PowerBI",
    "Project",
    "SharePoint",
    "SkypeForBusiness",
    "Surface",
    "SurfaceHub",
    "SQL",
    "Teams",
    "Visio",
    "Windows",
    "Yammer",
];

/// `details.requirements.services[].id`.
pub(super) static SERVICES: &[&str] = &[
    "ConsultingAndProfessional",
    "CustomSolution(ISV)",
    "DeploymentOrMigration",
    "Hardware",
    "Integration",
    "IPServices(ISV)",
    "LearningAndCertification",
    "Licensing",
    "ManagedServices",
    "ProjectServices",
];

/// `details.requirements.solutions[].id` when the solution's `type` is `Category`.
pub(super) static SOLUTION_CATEGORIES: &[&str] = &[
    "AdvancedAnalytics",
    "ApplicationIntegration",
    "ArtificialIntelligence",
    "AzureSecurityOperationManagement",
    "AzureStack",
    "BackupDisasterRecovery",
    "BigData",
    "Blockchain",
    "Chatbot",
    "CloudDatabaseMigration",
    "CloudMigration",
    "CloudVoice",
    "CognitiveServices",
    "CompetitiveDatabaseMigration",
    "Containers",
    "DataWarehouse",
    "DatabaseonLinux",
    "DevelopmentandTest",
    "DevOps",
    "DigitalMedia",
    "Dynamics365forCustomerService",
    "Dynamics365forFieldService",
    "Dynamics365forFinanceOperations",
    "Dynamics365forRetail",
    "Dynamics365forSales",
    "Dynamics365forTalent",
    "DynamicsonAzure",
    "EnterpriseBusinessIntelligence",
    "Gaming",
    "HighPerformanceComputing",
    "HybridStorage",
    "IdentityandAccessManagement",
    "InformationManagement",
    "InternetofThings",
    "MachineLearning",
    "Microserviceapplications",
    "MobileApplications",
    "MySQLPostgresMigrationtoAzure",
    "Networking",
    "NoSQLMigration",
    "RedhatonAzure",
    "RegulatoryComplianceGDPR",
    "SAPonAzure",
    "ServerlessComputing",
    "SharepointonAzure",
    "SQLServerUpgrade",
    "ThreatProtection",
    "WebDevelopment",
];
