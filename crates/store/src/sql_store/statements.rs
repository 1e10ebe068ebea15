//! Several statements sent as one where the backend allows it.
//!
//! Every call on a SQLite connection is a round trip to the connection's own thread (two
//! context switches, the larger part of a short statement's cost), so a transaction of seven
//! small statements spends most of its time switching threads. On SQLite the statements of a
//! [`Statements`] go in one call, run in order by the driver; on PostgreSQL, whose extended
//! protocol takes one statement per call, one call each.

use crate::backend::Backend;
use crate::sql::{Row, Sql, append_fragment};
use crate::store::Result;

/// Statements to run in order, in as few calls as the backend allows.
#[derive(Default)]
pub(super) struct Statements(Vec<Sql>);

impl Statements {
    /// Adds a statement (its placeholders numbered from `$1`).
    pub fn push(&mut self, sql: Sql) {
        self.0.push(sql);
    }

    /// Adds statements.
    pub fn extend(&mut self, sqls: impl IntoIterator<Item = Sql>) {
        self.0.extend(sqls);
    }

    /// Runs every statement, in order.
    pub async fn execute<B: Backend>(self, conn: &mut B::Connection) -> Result<()> {
        self.fetch_all::<B>(conn).await.map(drop)
    }

    /// Runs every statement, in order, returning the rows of all of them in that order.
    pub async fn fetch_all<B: Backend>(self, conn: &mut B::Connection) -> Result<Vec<Row>> {
        if B::BATCHES_STATEMENTS {
            return match self.joined() {
                Some(sql) => B::fetch_all(conn, sql).await,
                None => Ok(Vec::new()),
            };
        }
        let mut rows = Vec::new();
        for sql in self.0 {
            rows.extend(B::fetch_all(conn, sql).await?);
        }
        Ok(rows)
    }

    /// The statements as one text, `;`-separated, placeholders renumbered in order.
    fn joined(self) -> Option<Sql> {
        let mut parts = self.0.into_iter();
        let mut all = parts.next()?;
        for part in parts {
            all.push(";\n");
            append_fragment(&mut all, part);
        }
        Some(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::Arg;

    #[test]
    fn joined_statements_number_their_placeholders_in_order() {
        let mut first = Sql::new("UPDATE a SET x = ");
        first.arg(1i64).push(" WHERE id = ").arg("one");
        let mut second = Sql::new("DELETE FROM b WHERE id IN (");
        second.arg_list(["two", "three"]).push(")");
        let mut s = Statements::default();
        s.push(first);
        s.push(second);
        let sql = s.joined().expect("two statements");
        assert_eq!(
            sql.text,
            "UPDATE a SET x = $1 WHERE id = $2;\nDELETE FROM b WHERE id IN ($3, $4)"
        );
        assert_eq!(
            sql.args,
            vec![
                Arg::Int(Some(1)),
                Arg::from("one"),
                Arg::from("two"),
                Arg::from("three")
            ]
        );
        assert!(Statements::default().joined().is_none());
    }
}
