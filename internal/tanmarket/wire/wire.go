// Package wire is the tanmarket open API's JSON shape for the opportunity configuration: the
// envelope of POST /api/v3/opportunity/config/get (查询商机配置) and the opportunity types in
// its data, with every field under the vendor's JSON name, and their encoding and decoding.
//
// It is the one place the shape is spelled: the client decodes answers with it, the simulator
// and its large-dataset generator encode them with it, and tests read them with it. Adding an
// upstream field is a field here, one in the opportunity domain and its conversion in the
// client, and one in the GraphQL schema to serve it.
//
// The vendor's page describes the opportunity type's own fields: the Chinese terms on Type's
// fields are its words. Of the envelope it gives only names and types, and of the nested
// objects only an example (testdata/vendor_sample.json), so their terms are this service's,
// the same as in the GraphQL schema. Fields are in the example's key order, which is the order they are encoded
// in. A list sent as null decodes to nil and one sent as [] to an empty slice, and each
// encodes back as it came: the vendor sends both for "none".
package wire

import "encoding/json"

// Envelope is the whole body of an answer, with data kept as its raw bytes.
type Envelope struct {
	// Code is 0 on success; the page documents no other value. It is a
	// pointer so that a body without one is told from a success.
	Code *int `json:"code"`
	// Message is the upstream's word on the call, free text that may echo a
	// request header back.
	Message string `json:"message"`
	// Data is the list of opportunity types ([]Type) on success; null, or
	// absent, on a refusal.
	Data json.RawMessage `json:"data"`
}

// Type is one opportunity type (商机类型): a pipeline of stages and the custom
// fields an opportunity of the type carries.
type Type struct {
	TypeName    string `json:"typeName"`    // 类型名称: display name
	TypeID      int    `json:"typeId"`      // 类型id
	DefaultType bool   `json:"defaultType"` // 是否是默认类型: at most one type should be
	AllowSkip   bool   `json:"allowSkip"`   // 是否允许跨阶段跳转: may an opportunity jump over stages
	AllowGoBack bool   `json:"allowGoBack"` // 是否允许回退: may it move back to an earlier stage
	// Stages is the top-level pipeline (阶段列表), in upstream order; each
	// stage may have children.
	Stages []Stage `json:"stages"`
	// Fields is the type's custom opportunity fields (商机字段), in upstream order.
	Fields []Field `json:"fields"`
	// AllowInvalidGoBack: may an opportunity in a lost or invalid stage move
	// back (允许输单/无效阶段回退).
	AllowInvalidGoBack bool `json:"allowInvalidGoBack"`
	// AllowDeleteOpportunity: may only staff delete opportunities (仅允许员工删除商机).
	AllowDeleteOpportunity bool `json:"allowDeleteOpportunity"`
	// DeleteOpportunityDate is the number of days within which an opportunity
	// may be deleted (允许删除天数).
	DeleteOpportunityDate int `json:"deleteOpportunityDate"`
}

// Stage is one stage of a type's pipeline (阶段). Stages nest: Children are
// stages too, and the page's own example ends the recursion with
// "children": ["string"], which Decode drops.
type Stage struct {
	ID          int    `json:"id"`          // 阶段id
	Name        string `json:"name"`        // 阶段名称: display name
	Rank        int    `json:"rank"`        // 排序: position among its siblings
	Possibility int    `json:"possibility"` // 赢率: win probability at this stage, in percent
	Requirement string `json:"requirement"` // 阶段要求: what must be done to complete the stage
	Remind      bool   `json:"remind"`      // 是否提醒: are staff reminded while an opportunity stays here
	// RemindAfterDays is after how many days in the stage reminders are sent
	// (提醒天数); the vendor sends the numbers as strings.
	RemindAfterDays []string `json:"remindAfterDays"`
	// Children is the stage's sub-stages (子阶段), in upstream order.
	Children []Stage `json:"children"`
	// CustomerFields is the customer fields that must be filled to enter the
	// stage (客户必填字段).
	CustomerFields []CustomerField `json:"customerFields"`
	// RequiredOppTypeFields is the opportunity fields that must be filled to
	// enter the stage (商机必填字段).
	RequiredOppTypeFields []RequiredField `json:"requiredOppTypeFields"`
}

// CustomerField is a customer field (客户字段) a stage requires.
type CustomerField struct {
	FieldID int    `json:"fieldId"` // 字段id
	Name    string `json:"name"`    // 字段名称: display name
	Type    int    `json:"type"`    // 字段类型: the field's kind, as the vendor numbers it
}

// RequiredField is an opportunity field (商机字段) a stage requires: a copy of
// part of the Field of the same ID in the type's Fields.
type RequiredField struct {
	Name       string   `json:"name"`       // 字段名称: display name
	Required   bool     `json:"required"`   // 是否必填
	Rank       int      `json:"rank"`       // 排序: the field's position
	Type       int      `json:"type"`       // 字段类型: the field's kind, as the vendor numbers it
	MaxUnicode int      `json:"maxUnicode"` // 最大字符数: the most characters the value may have
	ID         int      `json:"id"`         // 字段id, the same as Field.ID
	Options    []Option `json:"options"`    // 选项: the choices of a selectable field
	Scale      int      `json:"scale"`      // 小数位数: decimal places of a numeric field
}

// Field is a custom opportunity field (商机字段) of a type.
type Field struct {
	ID         int      `json:"id"`         // 字段id
	Name       string   `json:"name"`       // 字段名称: display name
	Required   bool     `json:"required"`   // 是否必填
	Type       int      `json:"type"`       // 字段类型: the field's kind, as the vendor numbers it
	Options    []Option `json:"options"`    // 选项: the choices of a selectable field
	Scale      int      `json:"scale"`      // 小数位数: decimal places of a numeric field
	MaxUnicode int      `json:"maxUnicode"` // 最大字符数: the most characters the value may have
	// MinUnicode is the fewest characters the value may have (最小字符数);
	// nil when the vendor sends null, as it does when no minimum is set.
	MinUnicode *int `json:"minUnicode"`
	// Pattern is a regular expression the value must match (校验规则); nil
	// when the vendor sends null, as it does when no pattern is set.
	Pattern *string `json:"pattern"`
	Rank    int     `json:"rank"` // 排序: the field's position
}

// Option is one choice of a selectable field (选项).
type Option struct {
	ID   int    `json:"id"`   // 选项id
	Name string `json:"name"` // 选项名称: display text
}
