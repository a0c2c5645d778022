#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    accord::fuzzing::request_bodies(data);
    accord::fuzzing::query_strings(data);
});
