//! The dashboard's AWS backend over the wire, against the moto wrapper started by
//! scripts/with-moto.sh (being written).

#[test]
fn moto_endpoint_is_given() {
    assert!(std::env::var_os("SCONES_MOTO_ENDPOINT").is_some());
}
