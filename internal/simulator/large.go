package simulator

import (
	"strconv"

	"github.com/oppconfig/oppconfig-graphql/internal/tanmarket/wire"
)

// LargeDataset returns a deterministic configuration in the vendor's wire
// shape, as large as asked: types opportunity types, each with stagesPerType
// stages in all (top-level stages, some with children and a few with
// grandchildren, never deeper than three levels) and fieldsPerType custom
// fields, a quarter of them selects with options. Stages require customer
// fields and fields of their own type, as the demo dataset's do. The same
// arguments give the same bytes, so benchmarks compare across runs. Lists
// the vendor sends as null here are nil, and both null and [] occur.
//
// LargeDataset(40, 30, 150) is the large tenant of the load benchmark: 1.9 MB
// of JSON, 1 200 stages and 6 000 fields. Type ids start at 1001, as in the demo.
func LargeDataset(types, stagesPerType, fieldsPerType int) []byte {
	out := make([]wire.Type, max(types, 0))
	for i := range out {
		out[i] = largeType(i, max(stagesPerType, 0), max(fieldsPerType, 0))
	}
	return wire.EncodeTypes(out)
}

var largeTypeNames = []string{"标准销售商机", "渠道合作商机", "续费商机", "大客户项目", "增购商机", "代理商报备", "政府采购项目", "海外业务商机"}

// fieldTemplate is one kind of custom field; field j of a type uses template
// j mod len(fieldTemplates), numbered from its second use on.
type fieldTemplate struct {
	name       string
	typ        int
	scale      int
	maxUnicode int
	minUnicode int // 0: null
	pattern    string
	options    []string
}

var fieldTemplates = []fieldTemplate{
	{name: "商机名称", typ: 1, maxUnicode: 50, minUnicode: 2},
	{name: "预计成交金额", typ: 6, scale: 2, maxUnicode: 15},
	{name: "预计成交日期", typ: 7},
	{name: "商机来源", typ: 3, options: []string{"官网咨询", "市场活动", "老客户转介绍", "电话外呼", "展会"}},
	{name: "需求描述", typ: 2, maxUnicode: 500},
	{name: "联系人手机", typ: 9, maxUnicode: 11, minUnicode: 11, pattern: `^1[3-9]\d{9}$`},
	{name: "联系人邮箱", typ: 10, maxUnicode: 100, pattern: `^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$`},
	{name: "涉及产品", typ: 4, options: []string{"CRM系统", "呼叫中心", "智能客服", "BI报表", "私有化部署", "短信平台", "企业微信集成"}},
	{name: "预计用户数", typ: 5, maxUnicode: 8},
	{name: "下次跟进时间", typ: 8},
	{name: "所属行业", typ: 3, options: []string{"金融", "零售", "制造", "教育", "医疗", "政府", "互联网", "物流"}},
	{name: "竞争对手", typ: 1, maxUnicode: 100},
	{name: "采购方式", typ: 3, options: []string{"公开招标", "邀请招标", "竞争性谈判", "单一来源"}},
	{name: "折扣率", typ: 5, scale: 2, maxUnicode: 5},
	{name: "合同编号", typ: 1, maxUnicode: 32, minUnicode: 6, pattern: `^HT-\d{4}-\d{6}$`},
	{name: "决策人", typ: 1, maxUnicode: 20},
	{name: "付款方式", typ: 3, options: []string{"一次性付款", "分期付款", "按季度", "按年"}},
	{name: "赢单原因", typ: 4, options: []string{"价格优势", "产品功能", "服务响应", "品牌口碑", "关系维护"}},
	{name: "备注", typ: 2, maxUnicode: 1000},
	{name: "首付款金额", typ: 6, scale: 2, maxUnicode: 15},
}

var stageNames = []string{"初步接洽", "需求确认", "方案报价", "商务谈判", "合同审批", "赢单", "输单", "项目立项", "需求调研", "方案设计", "POC验证", "招投标", "合同谈判", "中标签约", "渠道报备", "续约沟通"}

var customerFields = []wire.CustomerField{
	{FieldID: 1, Name: "客户名称", Type: 1}, {FieldID: 2, Name: "联系电话", Type: 9}, {FieldID: 3, Name: "所在行业", Type: 3},
	{FieldID: 4, Name: "公司规模", Type: 3}, {FieldID: 5, Name: "详细地址", Type: 2}, {FieldID: 6, Name: "联系邮箱", Type: 10},
}

var remindDays = [][]string{{}, {"3"}, {"7", "14"}, {"1", "3"}, {"5", "10"}}

// numbered appends " 2", " 3", … from a catalog's second round on.
func numbered(catalog []string, n int) string {
	name := catalog[n%len(catalog)]
	if round := n / len(catalog); round > 0 {
		name += " " + strconv.Itoa(round+1)
	}
	return name
}

func largeType(i, stages, fields int) wire.Type {
	typeID := 1001 + i
	t := wire.Type{
		TypeName:               numbered(largeTypeNames, i),
		TypeID:                 typeID,
		DefaultType:            i == 0,
		AllowSkip:              i%2 == 1,
		AllowGoBack:            i%3 != 2,
		AllowInvalidGoBack:     i%2 == 0,
		AllowDeleteOpportunity: i%4 != 3,
		DeleteOpportunityDate:  []int{30, 0, 7, 90}[i%4],
		Fields:                 make([]wire.Field, fields),
	}
	for j := range t.Fields {
		t.Fields[j] = largeField(typeID, j)
	}
	// Stages: top-level stage k gets k mod 3 children, and every fourth
	// top-level stage's first child a grandchild, until the type has its
	// count. Ranks run 1, 2, … among siblings; possibility rises along the
	// pipeline. Stages are numbered in document order (n), and a stage is
	// added to its parent once its own children are in: wire stages are
	// values.
	n := 0
	newStage := func(rank int) wire.Stage {
		s := largeStage(typeID, n, stages, rank, t.Fields)
		n++
		return s
	}
	for top := 0; n < stages; top++ {
		s := newStage(top + 1)
		for c := 0; c < top%3 && n < stages; c++ {
			child := newStage(c + 1)
			if c == 0 && top%4 == 3 && n < stages {
				child.Children = []wire.Stage{newStage(1)}
			}
			s.Children = append(s.Children, child)
		}
		if s.Children == nil && top%2 == 0 {
			s.Children = []wire.Stage{} // the vendor sends both null and [] for "none"
		}
		t.Stages = append(t.Stages, s)
	}
	if t.Stages == nil {
		t.Stages = []wire.Stage{}
	}
	return t
}

func largeField(typeID, j int) wire.Field {
	tpl := fieldTemplates[j%len(fieldTemplates)]
	id := typeID*1000 + j + 1
	f := wire.Field{
		ID:         id,
		Name:       numbered([]string{tpl.name}, j/len(fieldTemplates)),
		Required:   j%3 == 0,
		Type:       tpl.typ,
		Scale:      tpl.scale,
		MaxUnicode: tpl.maxUnicode,
		Rank:       j + 1,
	}
	if tpl.minUnicode > 0 {
		minUnicode := tpl.minUnicode
		f.MinUnicode = &minUnicode
	}
	if tpl.pattern != "" {
		pattern := tpl.pattern
		f.Pattern = &pattern
	}
	switch {
	case len(tpl.options) > 0:
		f.Options = make([]wire.Option, len(tpl.options))
		for k, name := range tpl.options {
			f.Options[k] = wire.Option{ID: id*100 + k + 1, Name: name}
		}
	case j%2 == 0:
		f.Options = []wire.Option{} // as with children: null and [] both occur
	}
	return f
}

func largeStage(typeID, n, stages, rank int, fields []wire.Field) wire.Stage {
	name := numbered(stageNames, n)
	s := wire.Stage{
		ID:              typeID*1000 + n + 1,
		Name:            name,
		Rank:            rank,
		Possibility:     min(100, 100*(n+1)/max(stages, 1)),
		Requirement:     "完成「" + name + "」阶段的工作：确认客户需求、更新联系人与关键决策信息，并在系统中提交跟进记录",
		Remind:          n%3 != 2,
		RemindAfterDays: remindDays[n%len(remindDays)],
	}
	switch n % 4 {
	case 0:
		s.CustomerFields = customerFields[:3]
	case 1:
		s.CustomerFields = customerFields[n%len(customerFields) : n%len(customerFields)+1]
	case 2:
		s.CustomerFields = []wire.CustomerField{}
	}
	if len(fields) > 0 && n%3 != 2 {
		for k := range 1 + n%3 {
			f := fields[(n*7+k*13)%len(fields)]
			s.RequiredOppTypeFields = append(s.RequiredOppTypeFields, wire.RequiredField{
				Name: f.Name, Required: true, Rank: f.Rank, Type: f.Type, MaxUnicode: f.MaxUnicode,
				ID: f.ID, Options: f.Options, Scale: f.Scale,
			})
		}
	}
	return s
}
