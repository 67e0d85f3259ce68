//! `kv`: every key is stored under the decision's company and module name, which the
//! host sets; a module cannot name another company's or module's keys.

use crate::sandbox::bindings::kv::{Entry, Host, KvError};
use crate::sandbox::limits::{MAX_KV_KEY, MAX_KV_VALUE};
use crate::sandbox::state::DecisionState;
use crate::store::KvWriteError;

impl DecisionState {
    fn kv_write(&mut self, key: &str, expected: Option<Option<u64>>, value: &[u8]) -> Result<u64, KvError> {
        if key.len() > MAX_KV_KEY || value.len() > MAX_KV_VALUE {
            return Err(KvError::TooLarge);
        }
        let scope = &self.scope;
        self.services.store.kv_put(&scope.company, &scope.module, key, expected, value).map_err(|e| match e {
            KvWriteError::Conflict(current) => KvError::Conflict(current),
            KvWriteError::Store(e) => KvError::Unavailable(e.to_string()),
        })
    }
}

impl Host for DecisionState {
    fn get(&mut self, key: String) -> Result<Option<Entry>, KvError> {
        let scope = &self.scope;
        match self.services.store.kv_get(&scope.company, &scope.module, &key) {
            Ok(entry) => Ok(entry.map(|e| Entry { value: e.value, version: e.version })),
            Err(e) => Err(KvError::Unavailable(e.to_string())),
        }
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<u64, KvError> {
        self.kv_write(&key, None, &value)
    }

    fn compare_and_swap(
        &mut self,
        key: String,
        expected: Option<u64>,
        value: Vec<u8>,
    ) -> Result<u64, KvError> {
        self.kv_write(&key, Some(expected), &value)
    }

    fn delete(&mut self, key: String) -> Result<bool, KvError> {
        let scope = &self.scope;
        self.services
            .store
            .kv_delete(&scope.company, &scope.module, &key)
            .map_err(|e| KvError::Unavailable(e.to_string()))
    }
}
