//! Table functions over CloudWatch: `json_fields()` (the JSON fields of a
//! group's recent events) and `insights()`, `insights_sql()`,
//! `insights_ppl()` (a Logs Insights query inside a SQL statement).

pub mod insights;
pub mod insights_exec;
pub mod json_fields;
