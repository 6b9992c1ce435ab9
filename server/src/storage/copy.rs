//! PostgreSQL's binary COPY format for the hot write path: parsing text floats costs the server
//! more than storing them (measured: CSV COPY of 100 000 samples 0.65 s, binary 0.39 s).
//!
//! Format (PostgreSQL docs, "COPY … Binary Format"): an 11-byte signature, two 32-bit header
//! fields, then per row a 16-bit field count and per field a 32-bit length and the value in the
//! type's binary send format (big-endian), and a 16-bit -1 trailer.
use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// A COPY … (FORMAT binary) payload being built row by row.
pub struct BinaryCopy {
    buf: Vec<u8>,
}

impl BinaryCopy {
    pub fn with_capacity(bytes: usize) -> Self {
        let mut buf = Vec::with_capacity(bytes + 19);
        buf.extend_from_slice(SIGNATURE);
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags: no OIDs
        buf.extend_from_slice(&0i32.to_be_bytes()); // no header extension
        BinaryCopy { buf }
    }

    pub fn row(&mut self, fields: i16) -> &mut Self {
        self.buf.extend_from_slice(&fields.to_be_bytes());
        self
    }

    fn value(&mut self, bytes: &[u8]) -> &mut Self {
        // Values here are fixed-width or a few hundred bytes of JSON: the length always fits.
        let len = i32::try_from(bytes.len()).unwrap_or(i32::MAX);
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(bytes);
        self
    }

    pub fn int2(&mut self, v: i16) -> &mut Self {
        self.value(&v.to_be_bytes())
    }
    pub fn int4(&mut self, v: i32) -> &mut Self {
        self.value(&v.to_be_bytes())
    }
    pub fn int8(&mut self, v: i64) -> &mut Self {
        self.value(&v.to_be_bytes())
    }
    pub fn float4(&mut self, v: f32) -> &mut Self {
        self.value(&v.to_be_bytes())
    }

    /// `timestamptz`: microseconds since 2000-01-01 00:00 UTC.
    pub fn timestamptz(&mut self, v: DateTime<Utc>) -> &mut Self {
        let epoch = Utc
            .with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let micros = (v - epoch).num_microseconds().unwrap_or(i64::MAX);
        self.int8(micros)
    }

    /// `jsonb`: a version byte (1) then the JSON text.
    pub fn jsonb<T: Serialize>(&mut self, v: &T) -> Result<&mut Self, serde_json::Error> {
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        self.buf.push(1);
        serde_json::to_writer(&mut self.buf, v)?;
        let len = i32::try_from(self.buf.len() - at - 4).unwrap_or(i32::MAX);
        self.buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
        Ok(self)
    }

    fn null(&mut self) -> &mut Self {
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
        self
    }

    pub fn int2_or_null(&mut self, v: Option<i16>) -> &mut Self {
        match v {
            Some(v) => self.int2(v),
            None => self.null(),
        }
    }

    pub fn int4_or_null(&mut self, v: Option<i32>) -> &mut Self {
        match v {
            Some(v) => self.int4(v),
            None => self.null(),
        }
    }

    pub fn int8_or_null(&mut self, v: Option<i64>) -> &mut Self {
        match v {
            Some(v) => self.int8(v),
            None => self.null(),
        }
    }

    pub fn float4_or_null(&mut self, v: Option<f32>) -> &mut Self {
        match v {
            Some(v) => self.float4(v),
            None => self.null(),
        }
    }

    /// A jsonb value, or SQL NULL for `None`.
    pub fn jsonb_or_null<T: Serialize>(
        &mut self,
        v: Option<&T>,
    ) -> Result<&mut Self, serde_json::Error> {
        match v {
            Some(v) => self.jsonb(v),
            None => Ok(self.null()),
        }
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_rows_and_trailer_follow_the_documented_layout() {
        let mut copy = BinaryCopy::with_capacity(0);
        copy.row(2).int4(7).float4(1.5);
        let bytes = copy.finish();
        assert_eq!(&bytes[..11], SIGNATURE);
        assert_eq!(&bytes[11..19], &[0; 8]);
        assert_eq!(&bytes[19..21], &2i16.to_be_bytes());
        assert_eq!(&bytes[21..25], &4i32.to_be_bytes());
        assert_eq!(&bytes[25..29], &7i32.to_be_bytes());
        assert_eq!(&bytes[29..33], &4i32.to_be_bytes());
        assert_eq!(&bytes[33..37], &1.5f32.to_be_bytes());
        assert_eq!(&bytes[37..], &(-1i16).to_be_bytes());
    }

    #[test]
    fn timestamps_count_microseconds_from_the_year_2000() {
        let mut copy = BinaryCopy::with_capacity(0);
        let t = Utc
            .with_ymd_and_hms(2000, 1, 1, 0, 0, 1)
            .single()
            .expect("valid");
        copy.row(1).timestamptz(t);
        let bytes = copy.finish();
        assert_eq!(&bytes[25..33], &1_000_000i64.to_be_bytes());
    }

    #[test]
    fn jsonb_carries_its_version_byte_and_length() {
        let mut copy = BinaryCopy::with_capacity(0);
        copy.row(1).jsonb(&vec![1, 2]).expect("serializable");
        let bytes = copy.finish();
        assert_eq!(&bytes[21..25], &6i32.to_be_bytes());
        assert_eq!(&bytes[25..31], b"\x01[1,2]");
    }
}
