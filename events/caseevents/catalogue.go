package caseevents

import "slices"

// Disease classes of the Law of the People's Republic of China on the
// Prevention and Control of Infectious Diseases (甲类, 乙类, 丙类), and the
// syndrome that is reported without a diagnosis (不明原因肺炎).
const (
	ClassA       = "A"
	ClassB       = "B"
	ClassC       = "C"
	ClassUnknown = "X" // pneumonia of unknown cause
)

// Disease is one entry of the national notifiable disease list.
type Disease struct {
	Code  string `json:"code"`
	Name  string `json:"name"`  // Chinese name as on the report card
	Label string `json:"label"` // English
	Class string `json:"class"`
	// ManagedAsA: a class B disease handled with class A measures
	// (乙类甲管), which the fixed-threshold rule treats like class A.
	ManagedAsA bool `json:"managed_as_a,omitempty"`
}

// Diseases returns the notifiable disease list (as amended in 2023, when
// COVID-19 moved to class B and mpox was added), plus pneumonia of unknown
// cause. The codes are onebook's own and never change; names may.
func Diseases() []Disease {
	return []Disease{
		{"plague", "鼠疫", "plague", ClassA, false},
		{"cholera", "霍乱", "cholera", ClassA, false},

		{"sars", "传染性非典型肺炎", "SARS", ClassB, true},
		{"hiv", "艾滋病", "HIV/AIDS", ClassB, false},
		{"hepatitis", "病毒性肝炎", "viral hepatitis", ClassB, false},
		{"polio", "脊髓灰质炎", "poliomyelitis", ClassB, false},
		{"hpai", "人感染高致病性禽流感", "human highly pathogenic avian influenza", ClassB, true},
		{"measles", "麻疹", "measles", ClassB, false},
		{"hfrs", "流行性出血热", "haemorrhagic fever with renal syndrome", ClassB, false},
		{"rabies", "狂犬病", "rabies", ClassB, false},
		{"je", "流行性乙型脑炎", "Japanese encephalitis", ClassB, false},
		{"dengue", "登革热", "dengue", ClassB, false},
		{"anthrax", "炭疽", "anthrax (pulmonary anthrax managed as class A)", ClassB, true},
		{"dysentery", "细菌性和阿米巴性痢疾", "bacillary and amoebic dysentery", ClassB, false},
		{"tb", "肺结核", "pulmonary tuberculosis", ClassB, false},
		{"typhoid", "伤寒和副伤寒", "typhoid and paratyphoid", ClassB, false},
		{"meningitis", "流行性脑脊髓膜炎", "meningococcal meningitis", ClassB, false},
		{"pertussis", "百日咳", "pertussis", ClassB, false},
		{"diphtheria", "白喉", "diphtheria", ClassB, false},
		{"neonatal_tetanus", "新生儿破伤风", "neonatal tetanus", ClassB, false},
		{"scarlet_fever", "猩红热", "scarlet fever", ClassB, false},
		{"brucellosis", "布鲁氏菌病", "brucellosis", ClassB, false},
		{"gonorrhea", "淋病", "gonorrhoea", ClassB, false},
		{"syphilis", "梅毒", "syphilis", ClassB, false},
		{"leptospirosis", "钩端螺旋体病", "leptospirosis", ClassB, false},
		{"schistosomiasis", "血吸虫病", "schistosomiasis", ClassB, false},
		{"malaria", "疟疾", "malaria", ClassB, false},
		{"h7n9", "人感染H7N9禽流感", "human infection with avian influenza A(H7N9)", ClassB, false},
		{"covid19", "新型冠状病毒感染", "COVID-19", ClassB, false},
		{"mpox", "猴痘", "mpox", ClassB, false},

		{"influenza", "流行性感冒", "influenza", ClassC, false},
		{"mumps", "流行性腮腺炎", "mumps", ClassC, false},
		{"rubella", "风疹", "rubella", ClassC, false},
		{"ahc", "急性出血性结膜炎", "acute haemorrhagic conjunctivitis", ClassC, false},
		{"leprosy", "麻风病", "leprosy", ClassC, false},
		{"typhus", "流行性和地方性斑疹伤寒", "epidemic and endemic typhus", ClassC, false},
		{"kala_azar", "黑热病", "visceral leishmaniasis", ClassC, false},
		{"echinococcosis", "包虫病", "echinococcosis", ClassC, false},
		{"filariasis", "丝虫病", "filariasis", ClassC, false},
		{"other_diarrhoea", "其它感染性腹泻病", "other infectious diarrhoea", ClassC, false},
		{"hfmd", "手足口病", "hand, foot and mouth disease", ClassC, false},

		{"pneumonia_unknown", "不明原因肺炎", "pneumonia of unknown cause", ClassUnknown, false},
	}
}

// LookupDisease returns the disease with code.
func LookupDisease(code string) (Disease, bool) {
	for _, d := range Diseases() {
		if d.Code == code {
			return d, true
		}
	}
	return Disease{}, false
}

// AlertsOnFirstCase reports whether one case of d is itself a signal: class
// A, class B managed as A, and pneumonia of unknown cause.
func (d Disease) AlertsOnFirstCase() bool {
	return d.Class == ClassA || d.Class == ClassUnknown || d.ManagedAsA
}

// Symptom is a symptom a card may list, and the symptom groups (syndromes
// of syndromic surveillance) it belongs to.
type Symptom struct {
	Code   string   `json:"code"`
	Name   string   `json:"name"`
	Groups []string `json:"groups"`
}

// Symptom groups.
const (
	GroupRespiratory      = "respiratory"      // influenza-like illness, pneumonia
	GroupGastrointestinal = "gastrointestinal" // diarrhoea, vomiting
	GroupRash             = "rash"             // fever with rash
	GroupNeurological     = "neurological"     // meningitis, encephalitis
	GroupHaemorrhagic     = "haemorrhagic"     // haemorrhagic fevers
	GroupHepatic          = "hepatic"          // jaundice
	GroupConjunctival     = "conjunctival"
	GroupFever            = "fever" // fever without a localising symptom
)

// Groups lists the symptom groups.
func Groups() []string {
	return []string{GroupRespiratory, GroupGastrointestinal, GroupRash, GroupNeurological,
		GroupHaemorrhagic, GroupHepatic, GroupConjunctival, GroupFever}
}

// Symptoms returns the symptoms a card may list.
func Symptoms() []Symptom {
	return []Symptom{
		{"fever", "发热", []string{GroupFever}},
		{"cough", "咳嗽", []string{GroupRespiratory}},
		{"sore_throat", "咽痛", []string{GroupRespiratory}},
		{"dyspnea", "呼吸困难", []string{GroupRespiratory}},
		{"pneumonia_imaging", "肺炎影像学表现", []string{GroupRespiratory}},
		{"diarrhoea", "腹泻", []string{GroupGastrointestinal}},
		{"vomiting", "呕吐", []string{GroupGastrointestinal}},
		{"abdominal_pain", "腹痛", []string{GroupGastrointestinal}},
		{"rash", "皮疹", []string{GroupRash}},
		{"vesicles", "疱疹", []string{GroupRash}},
		{"headache", "头痛", []string{GroupNeurological}},
		{"stiff_neck", "颈项强直", []string{GroupNeurological}},
		{"altered_consciousness", "意识障碍", []string{GroupNeurological}},
		{"bleeding", "出血", []string{GroupHaemorrhagic}},
		{"jaundice", "黄疸", []string{GroupHepatic}},
		{"conjunctivitis", "结膜充血", []string{GroupConjunctival}},
		{"myalgia", "肌肉酸痛", nil},
		{"fatigue", "乏力", nil},
	}
}

// SymptomGroups returns the symptom groups of a card's symptoms, sorted and
// without repeats. Fever alone is the fever group; fever with a localising
// symptom counts only in that symptom's group (a fever with cough is a
// respiratory case, not also an unexplained fever). Unknown symptoms are
// ignored (Card.Validate refuses them).
func SymptomGroups(symptoms []string) []string {
	var out []string
	fever := false
	for _, code := range symptoms {
		for _, s := range Symptoms() {
			if s.Code != code {
				continue
			}
			for _, g := range s.Groups {
				if g == GroupFever {
					fever = true
					continue
				}
				if !slices.Contains(out, g) {
					out = append(out, g)
				}
			}
		}
	}
	if fever && len(out) == 0 {
		out = append(out, GroupFever)
	}
	slices.Sort(out)
	return out
}

func knownSymptom(code string) bool {
	for _, s := range Symptoms() {
		if s.Code == code {
			return true
		}
	}
	return false
}

// Diagnosis statuses of a card.
const (
	Suspected = "suspected"
	Clinical  = "clinical"
	Confirmed = "confirmed" // laboratory-confirmed
)

// Severities.
func Severities() []string { return []string{"mild", "moderate", "severe", "critical", "death"} }

// Occupations of the report card (the national card's list, abridged).
func Occupations() []string {
	return []string{"child_scattered", "child_nursery", "student", "teacher", "food_service", "public_service",
		"commercial_service", "medical_staff", "worker", "migrant_worker", "farmer", "herdsman", "fisherman",
		"cadre_staff", "retired", "houseworker_unemployed", "other", "unknown"}
}
