//! The iollm registry: every model, dataset and path gets an id, an owner and a manifest CID.
//!
//! Records and events use the shared types of `iollm-types`, so off-chain code decodes them with
//! the same definitions. Unbounded data never enters storage: CIDs are shape-checked and bounded,
//! records live in a `Mapping` keyed by a counter.
#![cfg_attr(not(feature = "std"), no_std, no_main)]

#[ink::contract]
mod registry {
    use ink::prelude::vec::Vec;
    use ink::storage::Mapping;
    use iollm_types::cid::check_cid_shape;
    use iollm_types::registry::{Artifact, ArtifactId, Error, Kind};

    /// Registry storage: the last id handed out and the records by id.
    #[ink(storage)]
    #[derive(Default)]
    pub struct Registry {
        last_id: ArtifactId,
        artifacts: Mapping<ArtifactId, Artifact>,
    }

    /// A new artifact was registered (layout: `iollm_types::registry::events::Registered`).
    #[ink(event)]
    pub struct Registered {
        #[ink(topic)]
        id: ArtifactId,
        kind: Kind,
        #[ink(topic)]
        owner: AccountId,
        manifest_cid: Vec<u8>,
    }

    impl Registry {
        /// An empty registry.
        #[ink(constructor)]
        pub fn new() -> Self {
            Self::default()
        }

        /// Registers an artifact of `kind` (0 model, 1 dataset, 2 path) whose manifest is at
        /// `manifest_cid`, owned by the caller. Returns its new id.
        ///
        /// `kind` is the SCALE code of [`Kind`], taken as a byte so that an unknown kind is a
        /// readable `UnknownKind` error instead of an undecodable call.
        #[ink(message)]
        pub fn register(&mut self, kind: u8, manifest_cid: Vec<u8>) -> Result<ArtifactId, Error> {
            let kind = Kind::try_from(kind)?;
            check_cid_shape(&manifest_cid)?;
            let id = self.last_id.checked_add(1).ok_or(Error::IdOverflow)?;
            let owner = self.env().caller();
            let artifact = Artifact {
                kind,
                owner: *owner.as_ref(),
                manifest_cid: manifest_cid.clone(),
                registered_at: self.env().block_number(),
                parents: Vec::new(),
            };
            self.artifacts.insert(id, &artifact);
            self.last_id = id;
            self.env().emit_event(Registered { id, kind, owner, manifest_cid });
            Ok(id)
        }

        /// The artifact with this id, if any.
        #[ink(message)]
        pub fn get(&self, id: ArtifactId) -> Option<Artifact> {
            self.artifacts.get(id)
        }

        /// How many artifacts have been registered (ids run from 1 to this).
        #[ink(message)]
        pub fn count(&self) -> u64 {
            self.last_id
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use ink::env::test::{default_accounts, recorded_events, set_caller};
        use ink::env::DefaultEnvironment;
        use ink::scale::{Decode, Encode};
        use iollm_types::cid::MAX_CID_LEN;
        use iollm_types::registry::{events, selectors};

        const CID: &[u8] = b"QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o";

        fn bytes(account: &AccountId) -> [u8; 32] {
            *AsRef::<[u8; 32]>::as_ref(account)
        }

        #[ink::test]
        fn register_stores_the_record_and_emits_the_event() {
            let accounts = default_accounts::<DefaultEnvironment>();
            set_caller::<DefaultEnvironment>(accounts.bob);
            let mut registry = Registry::new();
            assert_eq!(registry.count(), 0);

            let id = registry.register(Kind::Dataset.into(), CID.to_vec()).unwrap();
            assert_eq!(id, 1);
            assert_eq!(registry.count(), 1);
            let record = registry.get(id).unwrap();
            assert_eq!(record.kind, Kind::Dataset);
            assert_eq!(record.owner, bytes(&accounts.bob));
            assert_eq!(record.manifest_cid, CID);

            let emitted = recorded_events().collect::<Vec<_>>();
            assert_eq!(emitted.len(), 1);
            assert_eq!(emitted[0].topics[0], events::REGISTERED_TOPIC);
            let event = events::Registered::decode(&mut &emitted[0].data[..]).unwrap();
            assert_eq!(
                event,
                events::Registered {
                    id: 1,
                    kind: Kind::Dataset,
                    owner: bytes(&accounts.bob),
                    manifest_cid: CID.to_vec(),
                }
            );
            // Topics shorter than 32 bytes are the field's SCALE encoding, zero-padded.
            let mut id_topic = [0u8; 32];
            id_topic[..8].copy_from_slice(&id.encode());
            assert_eq!(emitted[0].topics[1], id_topic);
            assert_eq!(emitted[0].topics[2], bytes(&accounts.bob));
        }

        #[ink::test]
        fn ids_increase_and_unknown_ids_are_none() {
            let mut registry = Registry::new();
            let a = registry.register(Kind::Model.into(), CID.to_vec()).unwrap();
            let b = registry.register(Kind::Path.into(), CID.to_vec()).unwrap();
            assert_eq!((a, b), (1, 2));
            assert_eq!(registry.get(b).unwrap().kind, Kind::Path);
            assert_eq!(registry.get(0), None);
            assert_eq!(registry.get(3), None);
        }

        #[ink::test]
        fn bad_input_is_refused_and_stores_nothing() {
            let mut registry = Registry::new();
            let model = u8::from(Kind::Model);
            assert_eq!(registry.register(model, Vec::new()), Err(Error::EmptyCid));
            assert_eq!(
                registry.register(model, vec![b'a'; MAX_CID_LEN + 1]),
                Err(Error::CidTooLong)
            );
            assert_eq!(registry.register(model, b"Qm not a cid".to_vec()), Err(Error::InvalidCid));
            assert_eq!(registry.register(3, CID.to_vec()), Err(Error::UnknownKind));
            assert_eq!(registry.register(255, CID.to_vec()), Err(Error::UnknownKind));
            assert_eq!(registry.count(), 0);
            assert_eq!(recorded_events().count(), 0);
        }

        #[ink::test]
        fn id_overflow_is_an_error() {
            let mut registry = Registry::new();
            registry.last_id = ArtifactId::MAX;
            assert_eq!(registry.register(0, CID.to_vec()), Err(Error::IdOverflow));
            assert_eq!(registry.count(), ArtifactId::MAX);
        }

        /// The selectors and topic off-chain code uses are the ones ink! generates.
        #[ink::test]
        fn shared_selectors_and_topics_match_the_contract() {
            assert_eq!(selectors::NEW, ink::selector_bytes!("new"));
            assert_eq!(selectors::REGISTER, ink::selector_bytes!("register"));
            assert_eq!(selectors::GET, ink::selector_bytes!("get"));
            assert_eq!(selectors::COUNT, ink::selector_bytes!("count"));
            assert_eq!(
                events::REGISTERED_TOPIC,
                <Registered as ink::env::Event>::SIGNATURE_TOPIC.unwrap()
            );
        }
    }
}
