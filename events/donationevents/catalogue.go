package donationevents

// Item is one kind of material in the catalogue: what it is, the standard
// it must meet, its unit and the specifications a need or a lot may name.
type Item struct {
	Code     string   `json:"code"`
	Name     string   `json:"name"`
	Standard string   `json:"standard,omitempty"`
	Unit     string   `json:"unit"`
	Specs    []string `json:"specs"`
}

// Catalogue returns the materials onebook tracks. Codes never change.
func Catalogue() []Item {
	return []Item{
		{"mask_n95", "医用防护口罩 / N95", "GB 19083-2010; GB 2626-2019 KN95", "只", []string{"KN95", "N95", "KN100"}},
		{"mask_kn95", "自吸过滤式防颗粒物呼吸器 KN95", "GB 2626-2019", "只", []string{"KN95", "KN100"}},
		{"mask_surgical", "医用外科口罩", "YY 0469-2011", "只", []string{"17.5cm×9.5cm", "14.5cm×9.5cm"}},
		{"mask_medical", "一次性使用医用口罩", "YY/T 0969-2013", "只", []string{"17.5cm×9.5cm"}},
		{"protective_clothing", "医用一次性防护服", "GB 19082-2009", "件", []string{"160", "165", "170", "175", "180", "185"}},
		{"isolation_gown", "隔离衣", "", "件", []string{"M", "L", "XL"}},
		{"goggles", "医用隔离眼罩 / 护目镜", "GB 14866-2006", "副", []string{"standard"}},
		{"face_shield", "防护面屏", "", "个", []string{"standard"}},
		{"gloves", "医用检查手套", "GB 10213-2006", "副", []string{"S", "M", "L"}},
		{"thermometer", "红外体温计", "GB/T 21417.1-2008", "支", []string{"forehead", "ear"}},
		{"disinfectant", "消毒液 (含氯)", "GB/T 36758-2018", "升", []string{"84", "chlorine dioxide"}},
		{"hand_sanitizer", "免洗手消毒凝胶", "GB 27950-2020", "瓶", []string{"500ml", "250ml"}},
	}
}

// LookupItem returns the catalogue item with code.
func LookupItem(code string) (Item, bool) {
	for _, it := range Catalogue() {
		if it.Code == code {
			return it, true
		}
	}
	return Item{}, false
}
