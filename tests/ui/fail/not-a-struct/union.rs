use zerog::Job;

#[derive(Job)]
#[job(type = "waste_time")]
pub union WasteTime {
    pub seconds: u64,
    pub millis: u64,
}

fn main() {}
