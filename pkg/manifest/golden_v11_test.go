package manifest

// goldenChainsV11 holds what version 1.1 added: a topic deleted from the
// cluster, kept in the backup and marked (Topic.DeletedIn) by the first backup
// that found it gone and by every later one, in a plain chain (a full backup and
// two incremental ones) and in an encrypted one.
func goldenChainsV11() [][]goldenManifest {
	const full, incr1, incr2 = "20270105T010000.000Z", "20270106T010000.000Z", "20270107T010000.000Z"
	const ordersID, legacyID = "7a1b2c3d4e5f60718293a4b5c6d7e8f9", "3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b"
	o0a := Object{Key: "topics/orders/partition=0/orders+0+0000000000.kfr", BackupID: full, FirstOffset: 0, LastOffset: 499, Records: 500,
		MinTimestamp: 1799110800000, MaxTimestamp: 1799150000000, Size: 20480,
		SHA256: "0c4d0b1a39bd1ab2a4a3e0a8bbd2f6a0d5b2c51f1f9a4b3a8b8e3f3d1f6c2a11", Digest: "5d9a3c6a36f8b44a0d6c8a1e6a4c4d6f9f3f8b8f0a4e3e2f1a0b9c8d7e6f5a41"}
	o0b := Object{Key: "topics/orders/partition=0/orders+0+0000000500.kfr", BackupID: incr1, FirstOffset: 500, LastOffset: 799, Records: 300,
		MinTimestamp: 1799150000001, MaxTimestamp: 1799197200000, Size: 12288,
		SHA256: "9b1e7c5d3a2f4e6b8c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a22", Digest: "e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2"}
	o0c := Object{Key: "topics/orders/partition=0/orders+0+0000000800.kfr", BackupID: incr2, FirstOffset: 800, LastOffset: 899, Records: 100,
		MinTimestamp: 1799197200001, MaxTimestamp: 1799283600000, Size: 4096,
		SHA256: "2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a33", Digest: "f0e1d2c3b4a5968778695a4b3c2d1e0f1a2b3c4d5e6f708192a3b4c5d6e7f809"}
	l0 := Object{Key: "topics/legacy/partition=0/legacy+0+0000000000.kfr", BackupID: full, FirstOffset: 0, LastOffset: 41, Records: 42,
		MinTimestamp: 1799000000000, MaxTimestamp: 1799100000000, Size: 3072,
		SHA256: "4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c44", Digest: "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"}
	legacy := func(deletedIn string) Topic {
		return Topic{Name: "legacy", ID: legacyID, Partitions: 1, ReplicationFactor: 3, Configs: map[string]string{"retention.ms": "-1"}, Partition: []Partition{
			{Partition: 0, StartOffset: 0, EndOffset: 42, Records: 42, Objects: []Object{l0}, Digest: l0.Digest},
		}, DeletedIn: deletedIn}
	}
	orders := func(end int64, objs ...Object) Topic {
		var n int64
		for _, o := range objs {
			n += o.Records
		}
		return Topic{Name: "orders", ID: ordersID, Partitions: 1, ReplicationFactor: 3, Partition: []Partition{
			{Partition: 0, StartOffset: 0, EndOffset: end, Records: n, Objects: objs, Digest: objs[len(objs)-1].Digest},
		}}
	}
	deletedWarning := "topic legacy was deleted from the cluster: its backup is kept and marked deleted (restore skips it unless --include-deleted)"
	plain := []goldenManifest{
		{file: "full.json", m: &Manifest{FormatVersion: "1.1", ID: full, KferryVersion: "0.10.0", ClusterID: "MkU3OEVBNTcwNTJENDM2Qk",
			Started: utc("2027-01-05T01:00:00Z"), Finished: utc("2027-01-05T01:00:01.5Z"),
			MinTimestamp: 1799000000000, MaxTimestamp: 1799150000000,
			Topics: []Topic{legacy(""), orders(500, o0a)},
			Groups: []Group{{Group: "billing", Offsets: []GroupOffset{{Topic: "legacy", Partition: 0, Offset: 42}, {Topic: "orders", Partition: 0, Offset: 480}}}},
		}},
		{file: "incremental-1.json", m: &Manifest{FormatVersion: "1.1", ID: incr1, Parent: full, KferryVersion: "0.10.0", ClusterID: "MkU3OEVBNTcwNTJENDM2Qk",
			Started: utc("2027-01-06T01:00:00Z"), Finished: utc("2027-01-06T01:00:00.75Z"),
			MinTimestamp: 1799000000000, MaxTimestamp: 1799197200000,
			Topics: []Topic{legacy(incr1), orders(800, o0a, o0b)},
			Groups: []Group{
				{Group: "billing", Offsets: []GroupOffset{{Topic: "orders", Partition: 0, Offset: 800}, {Topic: "legacy", Partition: 0, Offset: 42}}},
			},
			Warnings: []string{deletedWarning},
		}},
		{file: "incremental-2.json", m: &Manifest{FormatVersion: "1.1", ID: incr2, Parent: incr1, KferryVersion: "0.10.1", ClusterID: "MkU3OEVBNTcwNTJENDM2Qk",
			Started: utc("2027-01-07T01:00:00Z"), Finished: utc("2027-01-07T01:00:00.5Z"),
			MinTimestamp: 1799000000000, MaxTimestamp: 1799283600000,
			Topics: []Topic{legacy(incr1), orders(900, o0a, o0b, o0c)},
			Groups: []Group{
				{Group: "billing", Offsets: []GroupOffset{{Topic: "orders", Partition: 0, Offset: 900}, {Topic: "legacy", Partition: 0, Offset: 42}}},
			},
		}},
	}

	const efull, eincr = "20270110T000000.000Z", "20270111T000000.000Z"
	enc := &Encryption{Scheme: "age-x25519", KeyID: goldenKeyID}
	encrypted := []goldenManifest{
		{file: "encrypted-full.json", encrypted: true, m: &Manifest{FormatVersion: "1.1", ID: efull, KferryVersion: "0.10.1", ClusterID: "MkU3OEVBNTcwNTJENDM2Qk",
			Started: utc("2027-01-10T00:00:00Z"), Finished: utc("2027-01-10T00:00:01Z"),
			MinTimestamp: 1799000000000, MaxTimestamp: 1799150000000,
			Topics:     []Topic{legacy(""), orders(500, o0a)},
			Encryption: enc,
		}},
		{file: "encrypted-incremental.json", encrypted: true, m: &Manifest{FormatVersion: "1.1", ID: eincr, Parent: efull, KferryVersion: "0.10.1", ClusterID: "MkU3OEVBNTcwNTJENDM2Qk",
			Started: utc("2027-01-11T00:00:00Z"), Finished: utc("2027-01-11T00:00:00.5Z"),
			MinTimestamp: 1799000000000, MaxTimestamp: 1799197200000,
			Topics:     []Topic{legacy(eincr), orders(800, o0a, o0b)},
			Warnings:   []string{deletedWarning},
			Encryption: enc,
		}},
	}
	return [][]goldenManifest{plain, encrypted}
}
