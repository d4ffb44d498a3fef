//! SQLite query plans: the list queries walk an index range, so a page deep in a large list
//! costs what the first page costs. The SQL explained is the store's own.

use renvo::store::sqlite::{CUSTOMERS_BY_EMAIL_PAGE, CUSTOMERS_PAGE};
use sqlx::Row;

use crate::helpers::{Backend, TestApp};

/// The `detail` column of `EXPLAIN QUERY PLAN` for `sql` with every parameter bound to `bind`.
async fn plan_of(app: &TestApp, sql: &str, binds: usize) -> Vec<String> {
    let mut conn = app.sqlite_connection().await;
    let explain = format!("EXPLAIN QUERY PLAN {sql}");
    let mut query = sqlx::query(sqlx::AssertSqlSafe(explain));
    for _ in 0..binds {
        query = query.bind(1_i64);
    }
    let rows = query.fetch_all(&mut conn).await.unwrap();
    rows.iter()
        .map(|row| row.try_get::<String, _>("detail").unwrap())
        .collect()
}

fn assert_index_range(plan: &[String], index: &str, range: &str) {
    let expected = format!("SEARCH customers USING INDEX {index} ({range})");
    assert_eq!(plan, [expected], "{plan:?}");
    assert!(plan.iter().all(|step| !step.contains("SCAN customers")));
    assert!(plan.iter().all(|step| !step.contains("TEMP B-TREE")));
}

#[tokio::test]
async fn the_customer_list_walks_the_tenant_id_index_from_the_cursor() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.create_customers(3).await;

    let plan = plan_of(&app, CUSTOMERS_PAGE, 4).await;

    assert_index_range(
        &plan,
        "customers_tenant_id",
        "account_id=? AND mode=? AND id<?",
    );
}

#[tokio::test]
async fn the_email_filter_walks_the_tenant_email_index_from_the_cursor() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.create_customers(3).await;

    let plan = plan_of(&app, CUSTOMERS_BY_EMAIL_PAGE, 5).await;

    assert_index_range(
        &plan,
        "customers_tenant_email",
        "account_id=? AND mode=? AND email_folded=? AND id<?",
    );
}
