//! Every reference in the store resolves: what `scones gc` and a killed writer must never
//! break, checked by walking each one (the tests' kill -9 runs end with it).

use std::collections::HashSet;

use rusqlite::params;
use serde_json::Value;

use super::{Store, StoreError, payloads};

impl Store {
    /// Walks every reference: each payload reference to its body, each packed history to its
    /// dictionary, and each digest an execution's events and output name to a body that
    /// execution holds a reference for (so `scones gc` keeps the body while the execution
    /// exists). Returns the problems found; empty when the store is sound.
    pub fn reference_check(&self) -> Result<Vec<String>, StoreError> {
        let mut problems = Vec::new();
        let strings = |sql: &str| -> Result<Vec<String>, StoreError> {
            let mut stmt = self.conn().prepare(sql).map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(|e| self.err(e))?;
            rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
        };
        problems.extend(strings(
            "SELECT 'execution ' || execution_id || ' references missing body ' || digest
             FROM payload_refs r WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.digest = r.digest)",
        )?);
        problems.extend(strings(
            "SELECT 'the history of execution ' || execution_id || ' names missing dictionary ' || dictionary_id
             FROM histories h WHERE dictionary_id IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM history_dictionaries d WHERE d.id = h.dictionary_id)",
        )?);
        problems.extend(strings(
            "SELECT 'event rows of missing execution ' || execution_id FROM history_events h
             WHERE NOT EXISTS (SELECT 1 FROM executions e WHERE e.id = h.execution_id)
             GROUP BY execution_id",
        )?);

        let executions: Vec<(i64, String, Option<String>)> = {
            let mut stmt = self
                .conn()
                .prepare("SELECT id, arn, output_template FROM executions ORDER BY id")
                .map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(|e| self.err(e))?;
            rows.collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.err(e))?
        };
        let mut refs_of = self
            .conn()
            .prepare("SELECT digest FROM payload_refs WHERE execution_id = ?1")
            .map_err(|e| self.err(e))?;
        for (id, arn, output_template) in executions {
            let held: HashSet<String> = refs_of
                .query_map(params![id], |r| r.get::<_, String>(0))
                .map_err(|e| self.err(e))?
                .collect::<Result<_, _>>()
                .map_err(|e| self.err(e))?;
            let mut named = Vec::new();
            match self.stored_events(&arn) {
                Ok(Some((_, texts))) => {
                    for text in texts {
                        match serde_json::from_str::<Value>(&text) {
                            Ok(mut event) => named.extend(payloads::event_digests(&mut event)),
                            Err(e) => problems.push(format!("an event of {arn} is not JSON: {e}")),
                        }
                    }
                }
                Ok(None) => {}
                Err(e) => problems.push(e.to_string()),
            }
            if let Some(template) = &output_template {
                match payloads::output_digests(template) {
                    Some(digests) => named.extend(digests),
                    None => problems.push(format!("the output template of {arn} is malformed")),
                }
            }
            for digest in named {
                if !held.contains(&digest) {
                    problems.push(format!("{arn} uses body {digest} without a reference"));
                }
            }
        }
        Ok(problems)
    }
}
